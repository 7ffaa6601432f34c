import { describe, expect, it } from 'vitest';
import {
  extent,
  logTicks,
  niceTicks,
  parallelAxis,
  scale,
  smooth,
  xValues
} from '../src/chartmath';
import { IHistorySeries } from '../src/tokens';

const series: IHistorySeries = {
  run_id: 'r',
  key: 'loss',
  steps: [0, 1, 2],
  timestamps: [10_000, 12_000, 15_000],
  values: [1, null, 3],
  downsampled: false,
  total_points: 3
};

describe('smoothing', () => {
  it('is the identity at 0 and debiased (the first value is kept)', () => {
    expect(smooth([1, 2, 3], 0)).toEqual([1, 2, 3]);
    const s = smooth([1, 2, 3], 0.5);
    expect(s[0]).toBeCloseTo(1);
    expect(s[1]).toBeCloseTo((0.5 * 0.5 + 0.5 * 2) / 0.75);
    expect(s[2]!).toBeLessThan(3);
  });

  it('keeps NaN (null) as a gap without moving the average', () => {
    expect(smooth([1, null, 1], 0.9)).toEqual([1, null, expect.closeTo(1, 9)]);
  });
});

describe('axes', () => {
  it('gives steps, relative seconds or wall time', () => {
    expect(xValues(series, 'step')).toEqual([0, 1, 2]);
    expect(xValues(series, 'relative')).toEqual([0, 2, 5]);
    expect(xValues(series, 'wall')).toEqual([10_000, 12_000, 15_000]);
  });

  it('skips nulls, and non-positive values on a log scale', () => {
    expect(extent([3, null, -1, 2])).toEqual([-1, 3]);
    expect(extent([3, null, -1, 2], true)).toEqual([2, 3]);
    expect(extent([null])).toBeNull();
    const flat = extent([5, 5])!;
    expect(flat[0]).toBeLessThan(5);
    expect(flat[1]).toBeGreaterThan(5);
  });

  it('puts ticks on round values', () => {
    expect(niceTicks(0, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(0.13, 0.61, 4)).toEqual([0.2, 0.4, 0.6]);
    expect(niceTicks(0.13, 0.61, 8)).toEqual([0.2, 0.3, 0.4, 0.5, 0.6]);
    expect(logTicks(0.05, 20)).toEqual([0.1, 1, 10]);
  });

  it('maps linearly or by decades', () => {
    expect(scale([0, 10], [0, 100])(5)).toBe(50);
    expect(scale([1, 100], [0, 100], true)(10)).toBeCloseTo(50);
  });
});

describe('parallel coordinates', () => {
  it('normalises numbers by their range', () => {
    const axis = parallelAxis('lr', ['0.1', '0.3', null, '0.2']);
    expect(axis.numeric).toBe(true);
    expect(axis.positions).toEqual([0, 1, null, expect.closeTo(0.5, 9)]);
    expect([axis.low, axis.high]).toEqual(['0.1', '0.3']);
  });

  it('places text by its rank among the distinct values', () => {
    const axis = parallelAxis('opt', ['sgd', 'adam', 'sgd']);
    expect(axis.numeric).toBe(false);
    expect(axis.positions).toEqual([1, 0, 1]);
    expect(parallelAxis('one', ['x', 'x']).positions).toEqual([0.5, 0.5]);
  });
});
