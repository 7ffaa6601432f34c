import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Timer } from '../src/timer';

describe('Timer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs once, and a restart replaces the pending callback', () => {
    const timer = new Timer();
    const calls: string[] = [];
    timer.once(100, () => calls.push('first'));
    timer.once(100, () => calls.push('second'));
    expect(timer.isActive).toBe(true);
    vi.advanceTimersByTime(100);
    expect(calls).toEqual(['second']);
    expect(timer.isActive).toBe(false);
  });

  it('repeats until stopped', () => {
    const timer = new Timer();
    let ticks = 0;
    timer.every(10, () => (ticks += 1));
    vi.advanceTimersByTime(30);
    timer.stop();
    vi.advanceTimersByTime(30);
    expect(ticks).toBe(3);
    expect(timer.isActive).toBe(false);
  });

  it('stop() cancels a timeout and is harmless when idle', () => {
    const timer = new Timer();
    timer.stop();
    let fired = false;
    timer.once(10, () => (fired = true));
    timer.stop();
    vi.advanceTimersByTime(20);
    expect(fired).toBe(false);
  });
});
