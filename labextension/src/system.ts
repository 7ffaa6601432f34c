/**
 * System metrics: the keys nbtrack's sampler logs (CPU, memory, disk, network,
 * the kernel process, GPUs), which views fold apart from a run's own metrics.
 */

/** Metrics logged by the system metrics sampler (MLflow's `system/` prefix). */
export function isSystemMetric(key: string): boolean {
  return key.startsWith('system/');
}
