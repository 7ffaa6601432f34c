/**
 * System metrics: the keys nbtrack's sampler logs (CPU, memory, disk, network,
 * the kernel process, GPUs), which views fold apart from a run's own metrics.
 */
import type { IMetricDetail } from './tokens';

/** Metrics logged by the system metrics sampler (MLflow's `system/` prefix). */
export function isSystemMetric(key: string): boolean {
  return key.startsWith('system/');
}

/** One figure of the kernel's usage, as the status bar shows it. */
export interface IUsageEntry {
  /** The metric it comes from (`system/process_cpu_percentage`, ...). */
  key: string;
  /** Short text: "CPU 42%", "RSS 1.2 GB", "GPU0 87%", "GPU0 mem 3.4 GB". */
  text: string;
}

// `system/<node>/...` when a node id is set (multi-node training).
const USAGE_KEY =
  /^system\/(?:([^/]+)\/)?(process_cpu_percentage|process_memory_rss_megabytes|gpu_(\d+)_(utilization_percentage|memory_usage_megabytes))$/;

/** A finite number, else null (NaN and ±∞ are logged as null or non-finite). */
function finite(detail: IMetricDetail | undefined): number | null {
  const value = detail?.value;
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** "42%": a percentage, whole numbers. */
export function formatPercent(value: number): string {
  return `${Math.round(value)}%`;
}

/** "812 MB", "1.2 GB": a size logged in megabytes (10^6 bytes, as the sampler does). */
export function formatMegabytes(value: number): string {
  if (value >= 1000) {
    return `${(value / 1000).toFixed(1)} GB`;
  }
  return `${Math.round(value)} MB`;
}

interface IUsageFigure {
  key: string;
  node: string;
  /** Sort order: CPU, RSS, then GPU i utilization, GPU i memory. */
  order: number;
  text: string;
  timestamp: number;
}

function figure(key: string, detail: IMetricDetail): IUsageFigure | null {
  const match = USAGE_KEY.exec(key);
  const value = finite(detail);
  if (!match || value === null) {
    return null;
  }
  const [, node = '', name, gpu, gpuKind] = match;
  let order: number;
  let text: string;
  if (name === 'process_cpu_percentage') {
    [order, text] = [0, `CPU ${formatPercent(value)}`];
  } else if (name === 'process_memory_rss_megabytes') {
    [order, text] = [1, `RSS ${formatMegabytes(value)}`];
  } else if (gpuKind === 'utilization_percentage') {
    [order, text] = [2 + 2 * Number(gpu), `GPU${gpu} ${formatPercent(value)}`];
  } else {
    order = 3 + 2 * Number(gpu);
    text = `GPU${gpu} mem ${formatMegabytes(value)}`;
  }
  return { key, node, order, text, timestamp: detail.timestamp };
}

/**
 * The kernel's latest usage from a run's latest metrics: process CPU % and
 * RSS, then per GPU its utilization and memory. Where several nodes log
 * (`system/<node>/...`), the one that logged last. Empty when the run logs no
 * system metrics (or none of these), so nothing extra is shown.
 */
export function systemUsage(
  details: Record<string, IMetricDetail> | undefined
): IUsageEntry[] {
  const figures: IUsageFigure[] = [];
  let latest: IUsageFigure | null = null;
  for (const [key, detail] of Object.entries(details ?? {})) {
    const one = figure(key, detail);
    if (one) {
      figures.push(one);
      if (latest === null || one.timestamp > latest.timestamp) {
        latest = one;
      }
    }
  }
  return figures
    .filter(one => one.node === latest?.node)
    .sort((a, b) => a.order - b.order)
    .map(({ key, text }) => ({ key, text }));
}

/** The status bar's text for the usage: "CPU 42% · RSS 1.2 GB"; '' when none. */
export function formatSystemUsage(entries: IUsageEntry[]): string {
  return entries.map(entry => entry.text).join(' · ');
}
