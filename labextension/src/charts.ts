/**
 * Vega-Lite v5 specs of metric histories, rendered by JupyterLab's own Vega
 * renderer (the bundled @jupyterlab/vega5-extension; no network needed).
 */
import type { JSONObject } from '@lumino/coreutils';
import { IMetricHistory } from './tokens';

/** The mime type JupyterLab 4 renders offline. */
export const VEGALITE_MIME = 'application/vnd.vegalite.v5+json';

/** A line chart of one metric over steps, with the data inline. */
export function metricSpec(history: IMetricHistory): JSONObject {
  const values = history.points.map(p => ({
    step: p.step,
    value: Number.isFinite(p.value) ? p.value : null,
    timestamp: p.timestamp
  }));
  const title = history.downsampled
    ? `${history.key} (${values.length} of ${history.total_points} points)`
    : history.key;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    // A fixed size: 'container' would measure the renderer before it is attached.
    width: 360,
    height: 160,
    data: { values },
    mark: { type: 'line', point: values.length <= 50, tooltip: true },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: {
        field: 'value',
        type: 'quantitative',
        title: history.key,
        scale: { zero: false }
      }
    }
  };
}
