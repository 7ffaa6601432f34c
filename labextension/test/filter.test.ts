// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { ApiError } from '../src/api';
import { FilterBox } from '../src/filter';

describe('FilterBox', () => {
  it('shows the server message for a bad filter and keeps the last good one', async () => {
    const tried: string[] = [];
    const box = new FilterBox(filter => {
      tried.push(filter);
      return filter.includes('!!')
        ? Promise.reject(new ApiError("unexpected '!!' at 12", 400))
        : Promise.resolve();
    });
    expect(await box.apply(' metrics.acc > 0.9 ')).toBe(true);
    expect(box.current).toBe('metrics.acc > 0.9');
    expect(box.error.hidden).toBe(true);

    expect(await box.apply('metrics.acc !! 1')).toBe(false);
    expect(box.current).toBe('metrics.acc > 0.9');
    expect(box.error.hidden).toBe(false);
    expect(box.error.textContent).toBe("unexpected '!!' at 12");
    expect(box.input.getAttribute('aria-invalid')).toBe('true');

    expect(await box.apply('')).toBe(true);
    expect(box.current).toBe('');
    expect(box.error.hidden).toBe(true);
    expect(box.input.hasAttribute('aria-invalid')).toBe(false);
    expect(tried).toEqual(['metrics.acc > 0.9', 'metrics.acc !! 1', '']);
  });

  it('renders the message as text, never as HTML', async () => {
    const evil = '<img src=x onerror=alert(1)>';
    const box = new FilterBox(() => Promise.reject(new ApiError(evil, 400)));
    await box.apply('x');
    expect(box.error.textContent).toBe(evil);
    expect(box.error.querySelector('img')).toBeNull();
  });

  it('lets other failures through (the sidebar shows them)', async () => {
    const box = new FilterBox(() =>
      Promise.reject(new ApiError('server error', 500))
    );
    await expect(box.apply('x')).rejects.toThrow('server error');
    expect(box.error.hidden).toBe(true);
  });

  it('applies on Enter', async () => {
    const tried: string[] = [];
    const box = new FilterBox(filter => {
      tried.push(filter);
      return Promise.resolve();
    });
    box.input.value = "params.lr = '0.01'";
    box.input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    await Promise.resolve();
    expect(tried).toEqual(["params.lr = '0.01'"]);
  });
});
