/**
 * Pure formatting of run data for display: durations, metric values, times, statuses.
 */
import { IMetricDetail, MetricValue } from './tokens';

/** Shown for a metric a run never logged. */
export const MISSING_METRIC = '–';
/** Shown for null (the server's NaN / ±∞) and NaN. */
export const NON_FINITE_METRIC = 'NaN';

/** "4s", "2m 05s", "1h 02m", "3d 4h": the duration between two epoch-ms times. */
export function formatElapsed(startMs: number, endMs: number): string {
  const total = Math.max(0, Math.floor((endMs - startMs) / 1000));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (days > 0) {
    return `${days}d ${hours}h`;
  }
  if (hours > 0) {
    return `${hours}h ${pad(minutes)}m`;
  }
  if (minutes > 0) {
    return `${minutes}m ${pad(seconds)}s`;
  }
  return `${seconds}s`;
}

/**
 * A metric value in at most ~4 significant digits: 0.9312, 12.35, 1235, 1.235e+6, 1.2e-5.
 * null (the server's NaN or ±∞) prints "NaN", a metric not logged "–"; anything
 * that is not a number (a malformed payload) counts as not logged, never throws.
 */
export function formatMetric(value: MetricValue | undefined): string {
  if (value === null) {
    return NON_FINITE_METRIC;
  }
  if (typeof value !== 'number') {
    return MISSING_METRIC;
  }
  if (Number.isNaN(value)) {
    return NON_FINITE_METRIC;
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? '∞' : '-∞';
  }
  if (Number.isInteger(value) && Math.abs(value) < 1e6) {
    return String(value);
  }
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude >= 1e6 || magnitude < 1e-3)) {
    return value.toExponential(3).replace(/\.?0+e/, 'e');
  }
  // toPrecision then Number() drops trailing zeros ("0.5000" -> "0.5").
  return String(Number(value.toPrecision(4)));
}

/** The tooltip of a metric value: its full precision, or what NaN and "–" mean. */
export function metricTitle(value: MetricValue | undefined): string {
  if (
    value === null ||
    (typeof value === 'number' && !Number.isFinite(value))
  ) {
    return 'not a finite number (NaN or ±∞)';
  }
  return typeof value === 'number' ? String(value) : 'not logged';
}

/** "2024-06-10 14:03" in the browser's time zone; '' for a missing time. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return '';
  }
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}`
  );
}

/**
 * A start time for a narrow column: "14:03" today, "06-10" this year, else
 * "2023-06-10" (the browser's time zone; {@link formatTime} gives the full one).
 */
export function formatShortTime(
  ms: number | null | undefined,
  now: number = Date.now()
): string {
  const full = formatTime(ms);
  if (!full) {
    return '';
  }
  const today = formatTime(now);
  if (full.slice(0, 10) === today.slice(0, 10)) {
    return full.slice(11);
  }
  return full.slice(0, 4) === today.slice(0, 4)
    ? full.slice(5, 10)
    : full.slice(0, 10);
}

/** The lower-case status used in data-status attributes and CSS classes. */
export function statusSlug(status: string): string {
  return String(status).toLowerCase();
}

/**
 * A glyph per status, so that it is told by shape as well as colour (the
 * narrow sidebar shows only this): running ▶, finished ✓, failed ✕, killed ■.
 */
export function statusGlyph(status: string): string {
  switch (statusSlug(status)) {
    case 'running':
      return '▶';
    case 'finished':
      return '✓';
    case 'failed':
      return '✕';
    case 'killed':
      return '■';
    default:
      return '…';
  }
}

/**
 * Run names shared by several of `runs`: their rows show a short id too, so
 * that two runs of the same name can be told apart.
 */
export function repeatedNames(runs: { run_name: string }[]): Set<string> {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const run of runs) {
    if (seen.has(run.run_name)) {
      repeated.add(run.run_name);
    }
    seen.add(run.run_name);
  }
  return repeated;
}

/** The short form of a run id shown beside a repeated name (as the CLI prints it). */
export function shortRunId(runId: string): string {
  return runId.slice(0, 8);
}

/** Whether a status is final (the run will not change any more). */
export function isFinalStatus(status: string): boolean {
  return status === 'FINISHED' || status === 'FAILED' || status === 'KILLED';
}

/** The metric logged last (largest timestamp, then step), or null when there is none. */
export function lastLoggedMetric(
  details: Record<string, IMetricDetail> | undefined
): { key: string; detail: IMetricDetail } | null {
  let best: { key: string; detail: IMetricDetail } | null = null;
  for (const [key, detail] of Object.entries(details ?? {})) {
    if (
      best === null ||
      detail.timestamp > best.detail.timestamp ||
      (detail.timestamp === best.detail.timestamp &&
        detail.step > best.detail.step)
    ) {
      best = { key, detail };
    }
  }
  return best;
}

/** "loss=0.4213 (step 12)": one metric for the status bar. */
export function formatMetricEntry(key: string, detail: IMetricDetail): string {
  return `${key}=${formatMetric(detail.value)} (step ${detail.step})`;
}

/** A byte count for people: "812 B", "1.2 kB", "3.4 MB". */
export function formatBytes(size: number | null | undefined): string {
  if (size === null || size === undefined) {
    return '';
  }
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = size;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0
    ? `${value} ${units[unit]}`
    : `${value.toFixed(1)} ${units[unit]}`;
}
