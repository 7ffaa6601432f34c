import { describe, expect, it } from 'vitest';
import { metricSpec, VEGALITE_MIME } from '../src/charts';

describe('metricSpec', () => {
  it('is a Vega-Lite v5 line chart with the points inline', () => {
    const spec = metricSpec({
      key: 'loss',
      points: [
        { step: 0, timestamp: 1, value: 1.5 },
        { step: 1, timestamp: 2, value: Number.NaN },
        { step: 2, timestamp: 3, value: null }
      ],
      downsampled: false,
      total_points: 3
    });
    expect(VEGALITE_MIME).toBe('application/vnd.vegalite.v5+json');
    expect(spec.$schema).toContain('/vega-lite/v5');
    expect(spec.title).toBe('loss');
    // JSON has no NaN: a missing value leaves a gap in the line.
    expect((spec.data as { values: unknown[] }).values).toEqual([
      { step: 0, value: 1.5, timestamp: 1 },
      { step: 1, value: null, timestamp: 2 },
      { step: 2, value: null, timestamp: 3 }
    ]);
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
  });

  it('says when the history was downsampled', () => {
    const spec = metricSpec({
      key: 'acc',
      points: [{ step: 0, timestamp: 1, value: 1 }],
      downsampled: true,
      total_points: 10_000
    });
    expect(spec.title).toBe('acc (1 of 10000 points)');
  });
});
