/**
 * The chart grid of the Experiments view: one chart per metric, the selected
 * runs overlaid in it (one colour per run, a shared legend), drawn on canvas so
 * that 20 charts x 10 runs x 1,000 points draw in milliseconds. Controls:
 * smoothing, log scale, x = step / relative time / wall time, a metric filter.
 *
 * The histories come from GET histories, one request per metric (all in flight
 * at once): each chart draws as soon as its metric arrives.
 */
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import { NbtrackApi } from './api';
import {
  extent,
  logTicks,
  niceTicks,
  runColor,
  scale,
  smooth,
  XAxis,
  xValues
} from './chartmath';
import { clear, errorMessage, h } from './dom';
import { formatMetric } from './format';
import { IHistorySeries, IRunSummary } from './tokens';

/** Points asked per series (about one per pixel of a chart 350 px wide inside its axes). */
export const GRID_POINTS = 400;
const WIDTH = 420;
const HEIGHT = 220;
const MARGIN = { left: 56, right: 12, top: 24, bottom: 30 };

/** Options of {@link ChartGrid}. */
export interface IChartGridOptions {
  api: NbtrackApi;
  notebook: () => string | null;
}

/** Chart settings the user picks. */
export interface IChartSettings {
  smoothing: number;
  log: boolean;
  x: XAxis;
  match: string;
}

/** The chart grid (class `nbtrack-xp-charts`). */
export class ChartGrid extends Widget {
  constructor(private readonly _options: IChartGridOptions) {
    super();
    this.addClass('nbtrack-xp-charts');
    const smoothing = h('input', {
      className: 'nbtrack-xp-smoothing',
      attrs: {
        type: 'range',
        min: '0',
        max: '0.99',
        step: '0.01',
        value: '0',
        'aria-label': 'Smoothing'
      }
    });
    const smoothingValue = h('output', { text: '0' });
    smoothing.addEventListener('input', () => {
      this._settings.smoothing = Number(smoothing.value);
      smoothingValue.textContent = smoothing.value;
      this._redraw();
    });
    const log = h('input', {
      className: 'nbtrack-xp-log',
      attrs: { type: 'checkbox', 'aria-label': 'Log scale' }
    });
    log.addEventListener('change', () => {
      this._settings.log = log.checked;
      this._redraw();
    });
    const x = h('select', {
      className: 'nbtrack-xp-x jp-mod-styled',
      attrs: { 'aria-label': 'X axis' }
    });
    for (const [value, label] of [
      ['step', 'Step'],
      ['relative', 'Relative time (s)'],
      ['wall', 'Wall time']
    ]) {
      x.appendChild(h('option', { text: label, attrs: { value } }));
    }
    x.addEventListener('change', () => {
      this._settings.x = x.value as XAxis;
      this._redraw();
    });
    const match = h('input', {
      className: 'nbtrack-xp-metric-filter jp-mod-styled',
      attrs: {
        type: 'search',
        placeholder: 'Metrics containing…',
        'aria-label': 'Show the metrics whose name contains'
      }
    });
    match.addEventListener('input', () => {
      this._settings.match = match.value.trim().toLowerCase();
      this._arrange();
    });
    this._status = h('div', {
      className: 'nbtrack-xp-chart-status',
      attrs: { role: 'status' }
    });
    this._legend = h('ul', {
      className: 'nbtrack-xp-legend',
      attrs: { 'aria-label': 'Runs' }
    });
    this.node.append(
      h('div', { className: 'nbtrack-xp-chart-controls' }, [
        h('label', {}, [
          document.createTextNode('Smoothing '),
          smoothing,
          smoothingValue
        ]),
        h('label', {}, [log, document.createTextNode(' Log scale')]),
        h('label', {}, [document.createTextNode('X axis '), x]),
        match
      ]),
      this._legend,
      this._status
    );
    this._grid = h('div', { className: 'nbtrack-xp-grid' });
    this.node.appendChild(this._grid);
  }

  /** The settings in effect (for tests). */
  get settings(): Readonly<IChartSettings> {
    return this._settings;
  }

  /** When the last `show` finished drawing every chart (ms since it was called). */
  get lastLoadMs(): number | null {
    return this._lastLoadMs;
  }

  /**
   * Chart every metric of `runs`: fetch each metric's histories (all at once)
   * and draw each chart when its data arrives. Resolves once all are drawn (or failed).
   */
  async load(runs: readonly IRunSummary[]): Promise<void> {
    const started = performance.now();
    const generation = ++this._generation;
    this._runs = [...runs];
    this._data.clear();
    this._renderLegend();
    const keys = [...new Set(runs.flatMap(r => Object.keys(r.metrics)))].sort();
    this._keys = keys;
    this._arrange();
    if (runs.length === 0) {
      this._status.textContent =
        'Select runs in the Runs tab (Space or click) to chart their metrics.';
      this._lastLoadMs = null;
      return;
    }
    if (keys.length === 0) {
      this._status.textContent = 'The selected runs logged no metrics.';
      return;
    }
    this._status.textContent = `Loading ${keys.length} metrics…`;
    this.node.setAttribute('aria-busy', 'true');
    const ids = runs.map(r => r.run_id);
    const notebook = this._options.notebook();
    let failed = 0;
    await Promise.all(
      keys.map(async key => {
        try {
          const series = await this._options.api.histories(
            ids,
            [key],
            notebook,
            GRID_POINTS
          );
          if (generation !== this._generation) {
            return;
          }
          this._data.set(key, series);
          this._drawChart(key);
        } catch (error) {
          failed += 1;
          const chart = this._charts.get(key);
          if (chart && generation === this._generation) {
            chart.error.textContent = errorMessage(error);
            chart.error.hidden = false;
          }
        }
      })
    );
    if (generation !== this._generation) {
      return;
    }
    this.node.removeAttribute('aria-busy');
    this._lastLoadMs = performance.now() - started;
    this.node.dataset.loadMs = String(Math.round(this._lastLoadMs));
    const sampled = [...this._data.values()].some(s =>
      s.some(x => x.downsampled)
    );
    this._status.textContent =
      `${keys.length} metrics of ${runs.length} runs` +
      (sampled ? ' (long histories sampled at evenly spaced steps)' : '') +
      (failed ? `; ${failed} failed to load` : '');
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._redraw();
  }

  private _renderLegend(): void {
    clear(this._legend);
    this._runs.forEach((run, i) => {
      const swatch = h('span', { className: 'nbtrack-xp-swatch' });
      swatch.style.background = runColor(i);
      this._legend.appendChild(
        h('li', { title: run.run_id }, [
          swatch,
          document.createTextNode(`${run.run_name} (${run.run_id.slice(0, 7)})`)
        ])
      );
    });
  }

  /** One figure per metric shown by the filter. */
  private _arrange(): void {
    clear(this._grid);
    this._charts.clear();
    const match = this._settings.match;
    for (const key of this._keys) {
      if (match && !key.toLowerCase().includes(match)) {
        continue;
      }
      const canvas = h('canvas', {
        className: 'nbtrack-xp-canvas',
        attrs: { role: 'img', 'aria-label': `${key}: loading` }
      });
      const error = h('div', {
        className: 'nbtrack-notice nbtrack-notice-error'
      });
      error.hidden = true;
      const figure = h(
        'figure',
        {
          className: 'nbtrack-xp-chart',
          dataset: { metric: key },
          attrs: { tabindex: '0' }
        },
        [h('figcaption', { text: key }), canvas, error]
      );
      this._grid.appendChild(figure);
      this._charts.set(key, { canvas, error, figure });
      if (this._data.has(key)) {
        this._drawChart(key);
      }
    }
  }

  private _redraw(): void {
    for (const key of this._charts.keys()) {
      if (this._data.has(key)) {
        this._drawChart(key);
      }
    }
  }

  /** Draw one metric's chart: axes, ticks, one line per run. */
  private _drawChart(key: string): void {
    const chart = this._charts.get(key);
    const series = this._data.get(key);
    if (!chart || !series) {
      return;
    }
    const { smoothing, log, x: axis } = this._settings;
    const ratio = window.devicePixelRatio || 1;
    const canvas = chart.canvas;
    canvas.width = WIDTH * ratio;
    canvas.height = HEIGHT * ratio;
    canvas.style.width = `${WIDTH}px`;
    canvas.style.height = `${HEIGHT}px`;
    const ctx = canvas.getContext('2d');
    if (!ctx) {
      return;
    }
    ctx.scale(ratio, ratio);
    const style = getComputedStyle(this.node);
    const text = style.getPropertyValue('--jp-ui-font-color1').trim() || '#333';
    const muted =
      style.getPropertyValue('--jp-ui-font-color2').trim() || '#777';
    const grid = style.getPropertyValue('--jp-border-color2').trim() || '#ddd';
    ctx.clearRect(0, 0, WIDTH, HEIGHT);
    ctx.font = '11px sans-serif';

    const lines = series.map(s => ({
      run: s.run_id,
      x: xValues(s, axis),
      y: smooth(s.values, smoothing)
    }));
    const xs = extent(lines.flatMap(l => l.x));
    const ys = extent(
      lines.flatMap(l => l.y),
      log
    );
    const points = series.reduce((n, s) => n + s.steps.length, 0);
    if (!xs || !ys) {
      ctx.fillStyle = muted;
      ctx.fillText(
        log ? 'No positive values (log scale)' : 'No finite values',
        MARGIN.left,
        HEIGHT / 2
      );
      canvas.setAttribute('aria-label', `${key}: no values to draw`);
      return;
    }
    const px = scale(xs, [MARGIN.left, WIDTH - MARGIN.right]);
    const py = scale(ys, [HEIGHT - MARGIN.bottom, MARGIN.top], log);

    // Grid lines and tick labels.
    ctx.strokeStyle = grid;
    ctx.fillStyle = muted;
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    const yTicks = log ? logTicks(ys[0], ys[1]) : niceTicks(ys[0], ys[1], 4);
    for (const t of yTicks) {
      const y = Math.round(py(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(MARGIN.left, y);
      ctx.lineTo(WIDTH - MARGIN.right, y);
      ctx.stroke();
      ctx.fillText(formatMetric(t), MARGIN.left - 4, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of niceTicks(xs[0], xs[1], 4)) {
      const x = Math.round(px(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, MARGIN.top);
      ctx.lineTo(x, HEIGHT - MARGIN.bottom);
      ctx.stroke();
      ctx.fillText(xLabel(t, axis), x, HEIGHT - MARGIN.bottom + 4);
    }
    ctx.fillStyle = text;
    ctx.textAlign = 'right';
    ctx.fillText(
      axis === 'step' ? 'step' : axis === 'relative' ? 'seconds' : 'time',
      WIDTH - MARGIN.right,
      HEIGHT - 12
    );

    // One line per run (a lone point is a dot).
    ctx.save();
    ctx.beginPath();
    ctx.rect(
      MARGIN.left,
      MARGIN.top - 2,
      WIDTH - MARGIN.left - MARGIN.right,
      HEIGHT - MARGIN.top - MARGIN.bottom + 4
    );
    ctx.clip();
    ctx.lineWidth = 1.5;
    const order = this._runs.map(r => r.run_id);
    for (const line of lines) {
      const color = runColor(Math.max(0, order.indexOf(line.run)));
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.beginPath();
      let drawing = false;
      let drawn = 0;
      for (let i = 0; i < line.x.length; i++) {
        const v = line.y[i];
        if (v === null || (log && v <= 0)) {
          drawing = false;
          continue;
        }
        const x = px(line.x[i]);
        const y = py(v);
        if (drawing) {
          ctx.lineTo(x, y);
        } else {
          ctx.moveTo(x, y);
          drawing = true;
        }
        drawn += 1;
      }
      ctx.stroke();
      if (drawn === 1 || line.x.length <= 20) {
        for (let i = 0; i < line.x.length; i++) {
          const v = line.y[i];
          if (v !== null && !(log && v <= 0)) {
            ctx.beginPath();
            ctx.arc(px(line.x[i]), py(v), 2.5, 0, 2 * Math.PI);
            ctx.fill();
          }
        }
      }
    }
    ctx.restore();
    const lastValues = series
      .map(s => {
        const last = s.values[s.values.length - 1];
        const name =
          this._runs.find(r => r.run_id === s.run_id)?.run_name ?? s.run_id;
        return s.values.length
          ? `${name} ${formatMetric(last)}`
          : `${name} none`;
      })
      .join(', ');
    canvas.setAttribute(
      'aria-label',
      `${key}${log ? ' (log scale)' : ''}: ${series.length} runs, ${points} points; last values ${lastValues}`
    );
    chart.figure.title = `${key}: last values ${lastValues}`;
    chart.figure.dataset.points = String(points);
  }

  private readonly _status: HTMLDivElement;
  private readonly _legend: HTMLUListElement;
  private readonly _grid: HTMLDivElement;
  private readonly _settings: IChartSettings = {
    smoothing: 0,
    log: false,
    x: 'step',
    match: ''
  };
  private readonly _charts = new Map<
    string,
    { canvas: HTMLCanvasElement; error: HTMLDivElement; figure: HTMLElement }
  >();
  private readonly _data = new Map<string, IHistorySeries[]>();
  private _runs: IRunSummary[] = [];
  private _keys: string[] = [];
  private _generation = 0;
  private _lastLoadMs: number | null = null;
}

/** A tick label of the x axis. */
export function xLabel(value: number, axis: XAxis): string {
  if (axis === 'wall') {
    const d = new Date(value);
    const pad = (n: number): string => String(n).padStart(2, '0');
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  return formatMetric(value);
}
