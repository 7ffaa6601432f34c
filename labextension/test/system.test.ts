import { describe, expect, it } from 'vitest';

import { isSystemMetric } from '../src/system';

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
