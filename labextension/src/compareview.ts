/**
 * The compare tab of the Experiments view, from GET compare (the data of the
 * in-notebook compare panel): params side by side (those that differ first,
 * the equal ones folded), metric last / min / max, parallel coordinates of the
 * differing params and one metric (SVG), and the notebook diff of two runs.
 */
import { Widget } from '@lumino/widgets';
import { NbtrackApi } from './api';
import { parallelAxis, runColor } from './chartmath';
import { clear, errorMessage, h } from './dom';
import { formatMetric, metricTitle } from './format';
import { ICellChange, ICompare, INotebookDiff } from './tokens';

/** At most this many param axes (then the metric). */
const MAX_AXES = 8;
const SVG_NS = 'http://www.w3.org/2000/svg';

/** Options of {@link CompareView}. */
export interface ICompareViewOptions {
  api: NbtrackApi;
  notebook: () => string | null;
}

/** The compare tab (class `nbtrack-xp-compare`). */
export class CompareView extends Widget {
  constructor(private readonly _options: ICompareViewOptions) {
    super();
    this.addClass('nbtrack-xp-compare');
    this._status = h('div', {
      className: 'nbtrack-xp-compare-status',
      attrs: { role: 'status' }
    });
    this._content = h('div', { className: 'nbtrack-xp-compare-content' });
    this.node.append(this._status, this._content);
  }

  /** The data shown (for tests). */
  get data(): ICompare | null {
    return this._data;
  }

  /** Compare these runs (selection order); base/other pick the notebook diff's pair. */
  async load(
    runIds: readonly string[],
    base: string | null = null,
    other: string | null = null
  ): Promise<void> {
    const generation = ++this._generation;
    if (runIds.length === 0) {
      this._data = null;
      clear(this._content);
      this._status.textContent =
        'Select runs in the Runs tab (Space or click) to compare them.';
      return;
    }
    this._status.textContent = `Comparing ${runIds.length} runs…`;
    this.node.setAttribute('aria-busy', 'true');
    try {
      const data = await this._options.api.compare(
        runIds,
        this._options.notebook(),
        base,
        other
      );
      if (generation !== this._generation) {
        return;
      }
      this._data = data;
      this._metric =
        this._metric && data.metric_keys.includes(this._metric)
          ? this._metric
          : (data.metric_keys[0] ?? null);
      this._render(data);
      this._status.textContent = `${data.runs.length} runs: ${data.differing_params.length} of ${data.param_keys.length} params differ`;
    } catch (error) {
      if (generation === this._generation) {
        this._status.textContent = errorMessage(error);
        this._status.classList.add('nbtrack-notice-error');
      }
      return;
    } finally {
      this.node.removeAttribute('aria-busy');
    }
    this._status.classList.remove('nbtrack-notice-error');
  }

  private _labels(data: ICompare): string[] {
    return data.runs.map(r => `${r.run_name} (${r.run_id.slice(0, 7)})`);
  }

  private _render(data: ICompare): void {
    clear(this._content);
    const labels = this._labels(data);
    this._content.append(
      h('h2', { text: 'Params' }),
      this._paramsTable(data, labels),
      h('h2', { text: 'Metrics (last / min / max)' }),
      this._metricsTable(data, labels),
      h('h2', { text: 'Parallel coordinates' }),
      this._parallel(data, labels),
      h('h2', { text: 'Notebook diff' }),
      this._diffSection(data, labels)
    );
  }

  private _paramsTable(data: ICompare, labels: string[]): HTMLElement {
    const differ = data.differing_params;
    const equal = data.param_keys.filter(k => !differ.includes(k));
    const table = (keys: string[], className: string): HTMLElement => {
      const head = h('tr', {}, [
        h('th', { text: 'Param', attrs: { scope: 'col' } }),
        ...labels.map((label, i) =>
          h('th', { attrs: { scope: 'col' } }, [
            swatch(i),
            document.createTextNode(label)
          ])
        )
      ]);
      const body = h('tbody');
      for (const key of keys) {
        body.appendChild(
          h('tr', { dataset: { param: key } }, [
            h('th', { text: key, attrs: { scope: 'row' } }),
            ...data.runs.map(r =>
              h('td', {
                text: r.params[key] ?? '–',
                title: r.params[key] ?? 'not set'
              })
            )
          ])
        );
      }
      return h('table', { className: `nbtrack-table ${className}` }, [
        h('thead', {}, [head]),
        body
      ]);
    };
    const parts: HTMLElement[] = [
      differ.length
        ? table(differ, 'nbtrack-xp-params-differ')
        : h('p', { className: 'nbtrack-empty', text: 'No param differs.' })
    ];
    if (equal.length) {
      parts.push(
        h('details', { className: 'nbtrack-xp-params-equal' }, [
          h('summary', { text: `${equal.length} equal params` }),
          table(equal, 'nbtrack-xp-params-same')
        ])
      );
    }
    return h('div', {}, parts);
  }

  private _metricsTable(data: ICompare, labels: string[]): HTMLElement {
    if (!data.metric_keys.length) {
      return h('p', { className: 'nbtrack-empty', text: 'No metrics.' });
    }
    const body = h('tbody');
    for (const key of data.metric_keys) {
      body.appendChild(
        h('tr', { dataset: { metric: key } }, [
          h('th', { text: key, attrs: { scope: 'row' } }),
          ...data.runs.map(r => {
            const m = r.metrics[key];
            if (!m) {
              return h('td', { text: '–', title: 'not logged' });
            }
            return h('td', {
              text: `${formatMetric(m.last)} / ${formatMetric(m.min)} / ${formatMetric(m.max)}`,
              title: `last ${metricTitle(m.last)} (step ${m.step}), min ${metricTitle(m.min)}, max ${metricTitle(m.max)}`
            });
          })
        ])
      );
    }
    return h('table', { className: 'nbtrack-table nbtrack-xp-metrics' }, [
      h('thead', {}, [
        h('tr', {}, [
          h('th', { text: 'Metric', attrs: { scope: 'col' } }),
          ...labels.map(label =>
            h('th', { text: label, attrs: { scope: 'col' } })
          )
        ])
      ]),
      body
    ]);
  }

  private _parallel(data: ICompare, labels: string[]): HTMLElement {
    const wrap = h('div', { className: 'nbtrack-xp-parallel' });
    const metricSelect = h('select', {
      className: 'jp-mod-styled nbtrack-xp-parallel-metric',
      attrs: { 'aria-label': 'Metric of the last axis' }
    });
    for (const key of data.metric_keys) {
      metricSelect.appendChild(
        h('option', { text: key, attrs: { value: key } })
      );
    }
    if (this._metric) {
      metricSelect.value = this._metric;
    }
    const figure = h('div', { className: 'nbtrack-xp-parallel-figure' });
    const draw = (): void => {
      clear(figure);
      figure.appendChild(this._parallelSvg(data, labels));
    };
    metricSelect.addEventListener('change', () => {
      this._metric = metricSelect.value;
      draw();
    });
    if (data.metric_keys.length) {
      wrap.appendChild(
        h('label', {}, [document.createTextNode('Metric '), metricSelect])
      );
    }
    wrap.appendChild(figure);
    draw();
    return wrap;
  }

  private _parallelSvg(data: ICompare, labels: string[]): Element {
    const params = (
      data.differing_params.length ? data.differing_params : data.param_keys
    ).slice(0, MAX_AXES);
    const axes = params.map(key =>
      parallelAxis(
        key,
        data.runs.map(r => r.params[key])
      )
    );
    if (this._metric) {
      const key = this._metric;
      axes.push(
        parallelAxis(
          key,
          data.runs.map(r => r.metrics[key]?.last ?? null)
        )
      );
    }
    if (axes.length === 0) {
      return h('p', {
        className: 'nbtrack-empty',
        text: 'No params or metrics to draw.'
      });
    }
    const width = Math.max(360, 120 * axes.length);
    const height = 260;
    const top = 36;
    const bottom = 30;
    const left = 50;
    const gap = axes.length > 1 ? (width - 2 * left) / (axes.length - 1) : 0;
    const svg = svgEl('svg', {
      width: String(width),
      height: String(height),
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': `Parallel coordinates of ${axes.map(a => a.label).join(', ')} for ${labels.join(', ')}`,
      class: 'nbtrack-xp-parallel-svg'
    });
    const y = (p: number): number =>
      height - bottom - p * (height - top - bottom);
    axes.forEach((axis, i) => {
      const x = left + i * gap;
      svg.appendChild(
        svgEl('line', {
          x1: String(x),
          x2: String(x),
          y1: String(top),
          y2: String(height - bottom),
          class: 'nbtrack-xp-axis'
        })
      );
      svg.appendChild(svgText(axis.label, x, 14, 'nbtrack-xp-axis-label'));
      svg.appendChild(
        svgText(
          short(axis.high, axis.numeric),
          x,
          top - 4,
          'nbtrack-xp-axis-tick'
        )
      );
      svg.appendChild(
        svgText(
          short(axis.low, axis.numeric),
          x,
          height - bottom + 16,
          'nbtrack-xp-axis-tick'
        )
      );
    });
    data.runs.forEach((run, r) => {
      const points: string[] = [];
      axes.forEach((axis, i) => {
        const p = axis.positions[r];
        if (p !== null) {
          points.push(`${left + i * gap},${y(p)}`);
        }
      });
      const line = svgEl('polyline', {
        points: points.join(' '),
        fill: 'none',
        stroke: runColor(r),
        'stroke-width': '2',
        class: 'nbtrack-xp-parallel-line'
      });
      line.dataset.runId = run.run_id;
      const title = svgEl('title', {});
      title.textContent = `${labels[r]}: ${axes.map(a => `${a.label}=${a.texts[r] || '–'}`).join(', ')}`;
      line.appendChild(title);
      svg.appendChild(line);
    });
    return svg;
  }

  private _diffSection(data: ICompare, labels: string[]): HTMLElement {
    const section = h('div', { className: 'nbtrack-xp-diff' });
    if (data.runs.length < 2) {
      section.appendChild(
        h('p', {
          className: 'nbtrack-empty',
          text: 'Select two runs or more to diff their notebooks.'
        })
      );
      return section;
    }
    const ids = data.runs.map(r => r.run_id);
    const picker = (label: string, value: string): HTMLSelectElement => {
      const select = h('select', {
        className: 'jp-mod-styled',
        attrs: { 'aria-label': label }
      });
      ids.forEach((id, i) =>
        select.appendChild(
          h('option', { text: labels[i], attrs: { value: id } })
        )
      );
      select.value = value;
      return select;
    };
    const diff = data.diff;
    const base = picker('Diff from run', diff?.base ?? ids[0]);
    const other = picker('Diff to run', diff?.other ?? ids[1]);
    const rerun = (): void => {
      if (base.value !== other.value) {
        void this.load(ids, base.value, other.value);
      }
    };
    base.addEventListener('change', rerun);
    other.addEventListener('change', rerun);
    section.appendChild(
      h('div', { className: 'nbtrack-xp-diff-pick' }, [
        h('label', {}, [document.createTextNode('From '), base]),
        h('label', {}, [document.createTextNode(' to '), other])
      ])
    );
    if (diff) {
      section.appendChild(renderDiff(diff));
    }
    return section;
  }

  private readonly _status: HTMLDivElement;
  private readonly _content: HTMLDivElement;
  private _data: ICompare | null = null;
  private _metric: string | null = null;
  private _generation = 0;
}

const KIND_LABELS: Record<ICellChange['kind'], string> = {
  added: 'added',
  removed: 'removed',
  source: 'changed source',
  outputs: 'changed outputs',
  same: 'unchanged'
};

/** A notebook diff: the counts, then every changed cell (unchanged ones folded). */
export function renderDiff(diff: INotebookDiff): HTMLElement {
  const s = diff.summary;
  const root = h('div', { className: 'nbtrack-xp-diff-body' });
  root.appendChild(
    h('p', {
      className: 'nbtrack-xp-diff-summary',
      text:
        `${s.added} added, ${s.removed} removed, ${s.source} changed source, ` +
        `${s.outputs} changed outputs, ${s.same} unchanged ` +
        `(cells from ${diff.sources[0]} and ${diff.sources[1]})`
    })
  );
  const same: ICellChange[] = [];
  for (const change of diff.changes) {
    if (change.kind === 'same') {
      same.push(change);
      continue;
    }
    const cell = h('div', {
      className: `nbtrack-xp-diff-cell nbtrack-xp-diff-${change.kind}`,
      dataset: { change: change.kind }
    });
    cell.appendChild(h('strong', { text: KIND_LABELS[change.kind] }));
    if (change.kind === 'source') {
      const pre = h('pre');
      for (const line of change.line_diff) {
        const kind = line.startsWith('+')
          ? 'added'
          : line.startsWith('-')
            ? 'removed'
            : '';
        pre.appendChild(
          h('span', {
            className: kind ? `nbtrack-xp-line-${kind}` : '',
            text: `${line}\n`
          })
        );
      }
      cell.appendChild(pre);
    } else {
      const source = (change.new ?? change.old)?.source ?? '';
      cell.appendChild(h('pre', { text: source }));
    }
    if (
      (change.kind === 'outputs' || change.kind === 'source') &&
      change.old &&
      change.new &&
      change.old.outputs !== change.new.outputs
    ) {
      cell.appendChild(
        h('details', {}, [
          h('summary', { text: 'outputs changed' }),
          h('strong', { text: 'before' }),
          h('pre', { text: change.old.outputs }),
          h('strong', { text: 'after' }),
          h('pre', { text: change.new.outputs })
        ])
      );
    }
    root.appendChild(cell);
  }
  if (same.length === diff.changes.length) {
    root.appendChild(
      h('p', {
        className: 'nbtrack-empty',
        text: "The notebooks' cells are identical."
      })
    );
  }
  if (same.length) {
    root.appendChild(
      h('details', {}, [
        h('summary', { text: `${same.length} unchanged cells` }),
        ...same.map(c => h('pre', { text: c.new?.source ?? '' }))
      ])
    );
  }
  return root;
}

function swatch(index: number): HTMLElement {
  const element = h('span', { className: 'nbtrack-xp-swatch' });
  element.style.background = runColor(index);
  return element;
}

/** An axis end label: numbers in 4 significant digits, long text cut. */
function short(text: string, numeric: boolean): string {
  if (numeric && text !== '') {
    return formatMetric(Number(text));
  }
  return text.length > 14 ? `${text.slice(0, 13)}…` : text;
}

function svgEl(tag: string, attrs: Record<string, string>): SVGElement {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    element.setAttribute(name, value);
  }
  return element;
}

function svgText(
  text: string,
  x: number,
  y: number,
  className: string
): SVGElement {
  const element = svgEl('text', {
    x: String(x),
    y: String(y),
    'text-anchor': 'middle',
    class: className
  });
  element.textContent = text;
  return element;
}
