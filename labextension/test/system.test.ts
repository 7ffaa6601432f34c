import { describe, expect, it } from 'vitest';

import {
  formatMegabytes,
  formatPercent,
  formatSystemUsage,
  isSystemMetric,
  systemUsage
} from '../src/system';

describe('isSystemMetric', () => {
  it("tells the sampler's keys from the run's own", () => {
    expect(isSystemMetric('system/cpu_utilization_percentage')).toBe(true);
    expect(isSystemMetric('system/node_0/gpu_0_utilization_percentage')).toBe(
      true
    );
    expect(isSystemMetric('val_loss')).toBe(false);
    expect(isSystemMetric('systemic_error')).toBe(false);
  });
});

describe('systemUsage', () => {
  const at = (value: number | null, timestamp = 1000) => ({
    value,
    step: 0,
    timestamp,
    min: value,
    max: value
  });

  it("gives the kernel's CPU and RSS, then each GPU in order", () => {
    const usage = systemUsage({
      'system/gpu_10_utilization_percentage': at(5),
      'system/gpu_0_memory_usage_megabytes': at(3456),
      'system/process_memory_rss_megabytes': at(812.4),
      'system/gpu_0_utilization_percentage': at(87.4),
      'system/process_cpu_percentage': at(41.6),
      'system/cpu_utilization_percentage': at(99),
      loss: at(0.5)
    });
    expect(usage.map(entry => entry.text)).toEqual([
      'CPU 42%',
      'RSS 812 MB',
      'GPU0 87%',
      'GPU0 mem 3.5 GB',
      'GPU10 5%'
    ]);
    expect(formatSystemUsage(usage)).toBe(
      'CPU 42% · RSS 812 MB · GPU0 87% · GPU0 mem 3.5 GB · GPU10 5%'
    );
  });

  it('is empty when the run logs no system metrics', () => {
    expect(systemUsage({ loss: at(0.5) })).toEqual([]);
    expect(systemUsage(undefined)).toEqual([]);
    expect(formatSystemUsage([])).toBe('');
  });

  it('leaves out values that are not finite numbers', () => {
    const usage = systemUsage({
      'system/process_cpu_percentage': at(null),
      'system/process_memory_rss_megabytes': at(Number.POSITIVE_INFINITY),
      'system/gpu_0_utilization_percentage': at(12)
    });
    expect(formatSystemUsage(usage)).toBe('GPU0 12%');
  });

  it('shows the node that logged last when several do', () => {
    const usage = systemUsage({
      'system/node_a/process_cpu_percentage': at(10, 1000),
      'system/node_b/process_cpu_percentage': at(20, 2000),
      'system/node_b/process_memory_rss_megabytes': at(1500, 2000)
    });
    expect(formatSystemUsage(usage)).toBe('CPU 20% · RSS 1.5 GB');
    expect(usage[0].key).toBe('system/node_b/process_cpu_percentage');
  });
});

describe('formatPercent / formatMegabytes', () => {
  it('rounds percentages and sizes for the status bar', () => {
    expect(formatPercent(0.4)).toBe('0%');
    expect(formatPercent(99.6)).toBe('100%');
    expect(formatMegabytes(0.2)).toBe('0 MB');
    expect(formatMegabytes(999.4)).toBe('999 MB');
    expect(formatMegabytes(1000)).toBe('1.0 GB');
    expect(formatMegabytes(12345)).toBe('12.3 GB');
  });
});
