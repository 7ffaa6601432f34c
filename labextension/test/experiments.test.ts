import { describe, expect, it } from 'vitest';
import { ExperimentNames, storeKey } from '../src/experiments';
import { apiWith, json } from './helpers';

const experiment = (id: string, name: string) => ({
  experiment_id: id,
  name,
  lifecycle_stage: 'active',
  creation_time: null,
  tags: {}
});

describe('ExperimentNames', () => {
  it('keys stores by the notebook folder', () => {
    expect(storeKey(null)).toBe('');
    expect(storeKey('a.ipynb')).toBe('');
    expect(storeKey('dir/sub/a.ipynb')).toBe('dir/sub');
  });

  it('fetches once per store and refetches for an unknown id', async () => {
    let list = [experiment('0', 'Default')];
    const { api, seen } = apiWith(() => json({ experiments: list }));
    const names = new ExperimentNames(api);
    expect(await names.name('0', 'dir/a.ipynb')).toBe('Default');
    expect(await names.name('0', 'dir/b.ipynb')).toBe('Default');
    expect(seen).toHaveLength(1);
    expect(seen[0].url.searchParams.get('notebook')).toBe('dir/a.ipynb');
    list = [...list, experiment('7', 'tuning')];
    expect(await names.name('7', 'dir/a.ipynb')).toBe('tuning');
    expect(seen).toHaveLength(2);
    expect(await names.name('0', 'other/c.ipynb')).toBe('Default');
    expect(seen).toHaveLength(3);
  });

  it('uses what the sidebar fetched, and is null when the server fails', async () => {
    const { api, seen } = apiWith(() => json({ message: 'boom' }, 500));
    const names = new ExperimentNames(api);
    names.set('a.ipynb', [experiment('3', 'primed')]);
    expect(await names.name('3', 'b.ipynb')).toBe('primed');
    expect(seen).toHaveLength(0);
    expect(await names.name('9', 'b.ipynb')).toBeNull();
  });
});
