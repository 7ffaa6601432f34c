/**
 * Pure math of the chart grid and the parallel coordinates: smoothing, axis
 * ranges and ticks, log scales, and the x values of a series.
 */
import { IHistorySeries, MetricValue } from './tokens';

/** What the x axis shows. */
export type XAxis = 'step' | 'relative' | 'wall';

/**
 * Exponential moving average with TensorBoard's debiasing, `weight` in [0, 1)
 * (0: the raw values). Null values (NaN, ±∞) stay null and do not move the average.
 */
export function smooth(
  values: readonly MetricValue[],
  weight: number
): MetricValue[] {
  if (weight <= 0) {
    return [...values];
  }
  const w = Math.min(weight, 0.999);
  let last = 0;
  let count = 0;
  return values.map(value => {
    if (value === null || !Number.isFinite(value)) {
      return null;
    }
    last = last * w + (1 - w) * value;
    count += 1;
    return last / (1 - Math.pow(w, count));
  });
}

/**
 * The x values of a series: its steps, seconds since its first point
 * ('relative'), or epoch milliseconds ('wall').
 */
export function xValues(series: IHistorySeries, axis: XAxis): number[] {
  if (axis === 'step') {
    return series.steps;
  }
  if (axis === 'wall') {
    return series.timestamps;
  }
  const first = series.timestamps[0] ?? 0;
  return series.timestamps.map(t => (t - first) / 1000);
}

/** [min, max] of the finite values (positive ones only for a log scale); null if none. */
export function extent(
  values: Iterable<MetricValue>,
  log = false
): [number, number] | null {
  let low = Infinity;
  let high = -Infinity;
  for (const value of values) {
    if (value === null || !Number.isFinite(value) || (log && value <= 0)) {
      continue;
    }
    if (value < low) {
      low = value;
    }
    if (value > high) {
      high = value;
    }
  }
  if (low > high) {
    return null;
  }
  if (low === high) {
    const pad = log ? low * 0.5 : Math.abs(low) * 0.05 || 1;
    return [low - (log ? pad : pad), high + pad];
  }
  return [low, high];
}

/** At least `count` round tick steps over [low, high] (1, 2 or 5 times a power of ten). */
export function niceTicks(low: number, high: number, count = 5): number[] {
  if (!Number.isFinite(low) || !Number.isFinite(high) || high <= low) {
    return Number.isFinite(low) ? [low] : [];
  }
  const raw = (high - low) / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const unit = raw / power;
  const step = (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
  const ticks: number[] = [];
  for (
    let t = Math.ceil(low / step) * step;
    t <= high + step * 1e-9;
    t += step
  ) {
    ticks.push(Math.abs(t) < step * 1e-9 ? 0 : Number(t.toPrecision(12)));
  }
  return ticks;
}

/** Powers of ten within [low, high] (low > 0), at most ~6 of them. */
export function logTicks(low: number, high: number): number[] {
  const first = Math.floor(Math.log10(low));
  const last = Math.ceil(Math.log10(high));
  const every = Math.max(1, Math.ceil((last - first) / 6));
  const ticks: number[] = [];
  for (let e = first; e <= last; e += every) {
    const t = Math.pow(10, e);
    if (t >= low * 0.999 && t <= high * 1.001) {
      ticks.push(t);
    }
  }
  return ticks.length ? ticks : [low, high];
}

/** A linear or log scale from a domain onto [start, end] pixels. */
export function scale(
  domain: [number, number],
  range: [number, number],
  log = false
): (value: number) => number {
  const f = log ? Math.log10 : (v: number): number => v;
  const d0 = f(domain[0]);
  const d1 = f(domain[1]);
  const k = d1 === d0 ? 0 : (range[1] - range[0]) / (d1 - d0);
  return value => range[0] + (f(value) - d0) * k;
}

/** One axis of parallel coordinates: its label, and each run's position in [0, 1]. */
export interface IParallelAxis {
  label: string;
  /** Per run, in [0, 1] (null: the run has no value). */
  positions: (number | null)[];
  /** Per run, the text shown in the tooltip. */
  texts: string[];
  /** Numeric axes keep their range; others list their categories in order. */
  numeric: boolean;
  low: string;
  high: string;
}

/**
 * An axis of parallel coordinates from one value per run: numbers normalised
 * to [0, 1] by their range, anything else by its rank among the distinct values
 * (as the in-notebook compare panel does).
 */
export function parallelAxis(
  label: string,
  values: readonly (string | number | null | undefined)[]
): IParallelAxis {
  const texts = values.map(v =>
    v === null || v === undefined ? '' : String(v)
  );
  const present = texts.filter(t => t !== '');
  const numeric =
    present.length > 0 && present.every(t => Number.isFinite(Number(t)));
  if (numeric) {
    const numbers = present.map(Number);
    const low = Math.min(...numbers);
    const high = Math.max(...numbers);
    return {
      label,
      texts,
      numeric,
      low: String(low),
      high: String(high),
      positions: texts.map(t =>
        t === '' ? null : high === low ? 0.5 : (Number(t) - low) / (high - low)
      )
    };
  }
  const order = [...new Set(present)].sort();
  return {
    label,
    texts,
    numeric,
    low: order[0] ?? '',
    high: order[order.length - 1] ?? '',
    positions: texts.map(t =>
      t === ''
        ? null
        : order.length === 1
          ? 0.5
          : order.indexOf(t) / (order.length - 1)
    )
  };
}

/** A categorical palette readable on light and dark backgrounds (Tableau 10). */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac'
];

/** The colour of the `index`-th run. */
export function runColor(index: number): string {
  return PALETTE[index % PALETTE.length];
}
