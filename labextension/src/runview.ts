/**
 * The run view (main area): params, metric charts, the cell timeline with
 * "go to cell", artifacts (notebook snapshot, downloads) and the environment.
 */
import type { JSONObject } from '@lumino/coreutils';
import { Message } from '@lumino/messaging';
import { Poll } from '@lumino/polling';
import { Panel, Widget } from '@lumino/widgets';
import { ApiError, NbtrackApi } from './api';
import { metricSpec } from './charts';
import { isSystemMetric } from './system';
import { button, clear, errorMessage, h, keyValueTable } from './dom';
import { ExperimentNames } from './experiments';
import {
  formatBytes,
  formatElapsed,
  formatMetric,
  formatTime,
  isFinalStatus,
  metricTitle,
  statusSlug
} from './format';
import { Timer } from './timer';
import { IArtifactFile, IRunDetail, ITimelineCell } from './tokens';

/** At most this many metric charts are drawn (the summary table lists them all). */
const MAX_CHARTS = 12;

/** A load faster than this shows no "Loading…" line (no flicker). */
export const LOADING_DELAY_MS = 300;

/** Options of {@link RunView}. */
export interface IRunViewOptions {
  api: NbtrackApi;
  runId: string;
  /** The notebook the run was opened from (selects the store on the server). */
  notebook: string | null;
  /** Experiment names (the view shows the name, the id as its tooltip). */
  experiments: ExperimentNames;
  /** Render a Vega-Lite spec with JupyterLab's renderer. */
  renderChart: (spec: JSONObject) => Promise<Widget>;
  /** Show a timeline cell in its notebook; resolves with an error message or null. */
  goToCell: (run: IRunDetail, cell: ITimelineCell) => Promise<string | null>;
  /** Open the run's notebook snapshot read-only. */
  openSnapshot: (run: IRunDetail) => void;
  /** Polling interval while the run is running and the view visible. */
  intervalMs?: number;
}

/** One run in detail (class `nbtrack-run-view`, `data-run-id`). */
export class RunView extends Panel {
  constructor(private readonly _options: IRunViewOptions) {
    super();
    this.addClass('nbtrack-run-view');
    this.node.dataset.runId = _options.runId;
    // The bar outlives redraws, so keyboard focus on Refresh survives polling.
    this._bar = new Widget();
    this._bar.addClass('nbtrack-run-bar');
    const refresh = button(
      'Refresh',
      'nbtrack-refresh',
      () => void this.refresh(),
      'Reload the run'
    );
    this._banner = h('div', {
      className: 'nbtrack-run-banner',
      attrs: { role: 'status' }
    });
    this._banner.hidden = true;
    this._bar.node.append(refresh, this._banner);
    this._header = new Widget();
    this._header.addClass('nbtrack-run-header');
    this._charts = new Panel();
    this._charts.addClass('nbtrack-charts');
    this._details = new Widget();
    this._details.addClass('nbtrack-run-details');
    this.addWidget(this._bar);
    this.addWidget(this._header);
    this.addWidget(this._charts);
    this.addWidget(this._details);
    this._poll = new Poll({
      auto: false,
      factory: () => this.refresh(false),
      frequency: { interval: _options.intervalMs ?? 3000, backoff: true },
      // The first tick always loads; after it only a running run, shown, is polled.
      standby: () =>
        (this._run !== null &&
          (!this.isVisible || isFinalStatus(this._run.status))) ||
        'when-hidden',
      name: 'nbtrack:run-view'
    });
  }

  /** The run as last fetched. */
  get run(): IRunDetail | null {
    return this._run;
  }

  /**
   * Fetch the run and redraw; failures are shown in the view. The timeline,
   * artifacts and environment are redrawn when `full` or when the status changed
   * (polling a running run keeps what the user expanded there).
   */
  async refresh(full = true): Promise<void> {
    const { api, runId, notebook } = this._options;
    if (full || this._run === null) {
      // Only a slow load shows the line; a failed one keeps what is shown.
      this._loading.once(LOADING_DELAY_MS, () =>
        this._showBanner('Loading…', 'nbtrack-loading')
      );
      this.node.setAttribute('aria-busy', 'true');
    }
    let run: IRunDetail;
    try {
      run = await api.run(runId, notebook);
      if (this._experimentId !== run.experiment_id) {
        this._experimentName = await this._options.experiments.name(
          run.experiment_id,
          notebook
        );
        this._experimentId = run.experiment_id;
      }
    } catch (error) {
      this._showBanner(errorMessage(error), 'nbtrack-notice-error');
      return;
    } finally {
      this._loading.stop();
      this.node.removeAttribute('aria-busy');
    }
    this._showBanner(null);
    const previous = this._run;
    this._run = run;
    this.title.label = `Run: ${run.run_name}`;
    this.node.dataset.status = statusSlug(run.status);
    const signature = JSON.stringify(run);
    const metrics = JSON.stringify(run.metrics_detail);
    if (!full && signature === this._signature) {
      this._tickDuration(run);
      return; // a poll that found nothing new redraws nothing
    }
    this._signature = signature;
    this._renderHeader(run);
    const metricsChanged =
      full || JSON.stringify(previous?.metrics_detail) !== metrics;
    await Promise.all([
      metricsChanged ? this._renderCharts(run) : Promise.resolve(),
      full || previous?.status !== run.status
        ? this._renderDetails(run)
        : Promise.resolve()
    ]);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    void this._poll.start();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    this._loading.stop();
    super.dispose();
  }

  /** Show a loading or error line under Refresh (null hides it). */
  private _showBanner(message: string | null, className = ''): void {
    this._banner.textContent = message ?? '';
    this._banner.className = `nbtrack-run-banner ${className}`.trim();
    this._banner.hidden = message === null;
  }

  private _tickDuration(run: IRunDetail): void {
    if (this._duration && run.end_time === null) {
      this._duration.textContent = formatElapsed(run.start_time, Date.now());
    }
  }

  private _renderHeader(run: IRunDetail): void {
    const node = this._header.node;
    clear(node);
    const status = statusSlug(run.status);
    this._duration = h('span', {
      className: 'nbtrack-duration',
      text: formatElapsed(run.start_time, run.end_time ?? Date.now())
    });
    node.append(
      h('h1', { className: 'nbtrack-run-title' }, [
        h('span', {
          className: `nbtrack-status nbtrack-status-${status}`,
          text: status
        }),
        h('span', { className: 'nbtrack-run-name', text: run.run_name })
      ]),
      keyValueTable('nbtrack-run-info', [
        ['Run id', run.run_id],
        [
          'Experiment',
          h('span', {
            className: 'nbtrack-experiment-name',
            text: this._experimentName ?? run.experiment_id,
            title: `experiment id ${run.experiment_id}`
          })
        ],
        ['Notebook', run.notebook ?? '–'],
        ['Started', formatTime(run.start_time)],
        ['Duration', this._duration]
      ]),
      h('h2', { text: 'Parameters' }),
      sortedTable('nbtrack-params', run.params, ['Name', 'Value']),
      h('h2', { text: 'Metrics' }),
      this._metricTable(
        'nbtrack-metrics',
        run,
        Object.keys(run.metrics_detail).filter(key => !isSystemMetric(key))
      ),
      this._systemSection(run),
      h('h2', { text: 'Tags' }),
      sortedTable(
        'nbtrack-tags',
        Object.fromEntries(
          // nbtrack's own tags (notebook path, host, ...) are shown above or in Environment.
          Object.entries(run.tags).filter(([k]) => !k.startsWith('nbtrack.'))
        ),
        ['Tag', 'Value']
      )
    );
  }

  private _metricTable(
    className: string,
    run: IRunDetail,
    keys: string[]
  ): HTMLTableElement {
    return keyValueTable(
      className,
      keys.sort().map(key => {
        const d = run.metrics_detail[key];
        return [
          key,
          metricCell(d.value),
          String(d.step),
          metricCell(d.min),
          metricCell(d.max)
        ];
      }),
      ['Metric', 'Last', 'Step', 'Min', 'Max']
    );
  }

  /**
   * The sampler's `system/*` metrics (CPU, memory, GPU...), folded by default;
   * kept open across polls once the user opened it. Empty when there are none.
   */
  private _systemSection(run: IRunDetail): Node {
    const keys = Object.keys(run.metrics_detail).filter(isSystemMetric);
    if (keys.length === 0) {
      return document.createTextNode('');
    }
    const details = h('details', { className: 'nbtrack-system' }, [
      h('summary', { text: `System (${keys.length} metrics)` }),
      this._metricTable('nbtrack-system-metrics', run, keys)
    ]);
    details.open = this._systemOpen;
    details.addEventListener('toggle', () => {
      this._systemOpen = details.open;
    });
    return details;
  }

  private async _renderCharts(run: IRunDetail): Promise<void> {
    // The run's own metrics are charted; system/* ones are in the folded table.
    const keys = Object.keys(run.metrics_detail)
      .filter(key => !isSystemMetric(key))
      .sort()
      .slice(0, MAX_CHARTS);
    const { api, notebook, renderChart } = this._options;
    const charts = await Promise.all(
      keys.map(async key => {
        try {
          const history = await api.history(run.run_id, key, notebook);
          return await renderChart(metricSpec(history));
        } catch (error) {
          const failed = new Widget();
          failed.node.appendChild(
            h('div', {
              className: 'nbtrack-notice nbtrack-notice-error',
              text: `${key}: ${errorMessage(error)}`
            })
          );
          return failed;
        }
      })
    );
    for (const old of [...this._charts.widgets]) {
      old.dispose();
    }
    for (const chart of charts) {
      chart.addClass('nbtrack-chart');
      this._charts.addWidget(chart);
    }
  }

  private async _renderDetails(run: IRunDetail): Promise<void> {
    const { api, notebook } = this._options;
    const [timeline, artifacts, environment] = await Promise.all([
      api.timeline(run.run_id, notebook).catch(asError),
      api.artifacts(run.run_id, notebook).catch(asError),
      api.environment(run.run_id, notebook).catch(asError)
    ]);
    const node = this._details.node;
    clear(node);
    node.append(
      h('h2', { text: 'Cells' }),
      timeline instanceof Error
        ? errorLine(timeline)
        : this._timeline(run, timeline),
      h('h2', { text: 'Artifacts' }),
      button(
        'Open notebook snapshot',
        'nbtrack-open-snapshot',
        () => this._options.openSnapshot(run),
        'Open the notebook as it was when the run was recorded (read-only)'
      ),
      artifacts instanceof Error
        ? errorLine(artifacts)
        : this._artifactList(run, artifacts),
      h('details', { className: 'nbtrack-environment' }, [
        h('summary', { text: 'Environment' }),
        environment instanceof Error
          ? errorLine(
              environment instanceof ApiError && environment.status === 404
                ? new Error('No environment was captured for this run.')
                : environment
            )
          : h('pre', { text: JSON.stringify(environment, null, 2) })
      ])
    );
  }

  private _timeline(run: IRunDetail, cells: ITimelineCell[]): HTMLElement {
    if (cells.length === 0) {
      return h('p', { className: 'nbtrack-empty', text: 'No cell ran.' });
    }
    const message = h('div', {
      className: 'nbtrack-timeline-message',
      attrs: { role: 'status' }
    });
    const list = h('ol', { className: 'nbtrack-timeline' });
    for (const cell of cells) {
      const item = h('li', {
        className: `nbtrack-timeline-cell${cell.error ? ' nbtrack-mod-error' : ''}`,
        dataset: { cellId: cell.cell_id ?? '' }
      });
      const label =
        cell.execution_count === null ? '[ ]' : `[${cell.execution_count}]`;
      const logged = [
        ...cell.params.map(p => `param ${p}`),
        ...cell.metrics.map(m => `metric ${m}`)
      ].join(', ');
      const go = button(
        'Go to cell',
        'nbtrack-go-to-cell',
        () => {
          message.textContent = '';
          void this._options.goToCell(run, cell).then(error => {
            message.textContent = error ?? '';
          });
        },
        'Select this cell in the open notebook'
      );
      go.disabled = !cell.cell_id;
      item.append(
        h('div', { className: 'nbtrack-timeline-head' }, [
          h('span', { className: 'nbtrack-exec-count', text: label }),
          h('span', {
            className: 'nbtrack-timeline-time',
            text:
              cell.finished === null
                ? `${formatTime(cell.started)} (running)`
                : `${formatTime(cell.started)} · ${formatElapsed(cell.started, cell.finished)}`
          }),
          h('span', {
            className: 'nbtrack-timeline-logged',
            text: cell.error ? `error${logged ? `; ${logged}` : ''}` : logged
          }),
          go
        ]),
        h('pre', {
          className: 'nbtrack-timeline-source',
          text: firstLines(cell.source, 8)
        })
      );
      list.appendChild(item);
    }
    return h('div', {}, [message, list]);
  }

  private _artifactList(run: IRunDetail, files: IArtifactFile[]): HTMLElement {
    if (files.length === 0) {
      return h('p', { className: 'nbtrack-empty', text: 'No artifacts.' });
    }
    const list = h('ul', { className: 'nbtrack-artifacts' });
    for (const file of files) {
      const item = h('li', {
        className: 'nbtrack-artifact',
        dataset: { path: file.path }
      });
      if (file.is_dir) {
        const toggle = button(`${file.path}/`, 'nbtrack-artifact-dir', () => {
          toggle.disabled = true;
          void this._options.api
            .artifacts(run.run_id, this._options.notebook, file.path)
            .then(
              children => item.appendChild(this._artifactList(run, children)),
              error => item.appendChild(errorLine(asError(error)))
            );
        });
        item.appendChild(toggle);
      } else {
        item.append(
          h('span', { className: 'nbtrack-artifact-path', text: file.path }),
          h('span', {
            className: 'nbtrack-artifact-size',
            text: formatBytes(file.file_size)
          }),
          button('Download', 'nbtrack-download', () => {
            void this._download(run, file.path, item);
          })
        );
      }
      list.appendChild(item);
    }
    return list;
  }

  private async _download(
    run: IRunDetail,
    path: string,
    item: HTMLElement
  ): Promise<void> {
    try {
      // Fetched with the session's auth headers, then saved from a blob URL.
      const blob = await this._options.api.artifactBlob(
        run.run_id,
        path,
        this._options.notebook
      );
      const url = URL.createObjectURL(blob);
      const link = h('a', {
        attrs: { href: url, download: path.split('/').pop() ?? path }
      });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      item.appendChild(errorLine(asError(error)));
    }
  }

  private readonly _bar: Widget;
  private readonly _banner: HTMLDivElement;
  private readonly _loading = new Timer();
  private _systemOpen = false;
  private _signature = '';
  private _experimentId: string | null = null;
  private _experimentName: string | null = null;
  private _duration: HTMLSpanElement | null = null;
  private readonly _header: Widget;
  private readonly _charts: Panel;
  private readonly _details: Widget;
  private readonly _poll: Poll;
  private _run: IRunDetail | null = null;
}

/** A table of a string map, sorted by key. */
function sortedTable(
  className: string,
  values: Record<string, string>,
  header: string[]
): HTMLElement {
  const rows = Object.keys(values)
    .sort()
    .map(key => [key, values[key]]);
  return rows.length
    ? keyValueTable(className, rows, header)
    : h('p', { className: `nbtrack-empty ${className}`, text: 'None.' });
}

/** A metric value ("NaN" for null, "–" when absent) with its full value as tooltip. */
function metricCell(value: number | null | undefined): HTMLElement {
  return h('span', {
    className: 'nbtrack-metric-value',
    text: formatMetric(value),
    title: metricTitle(value)
  });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function errorLine(error: Error): HTMLElement {
  return h('div', {
    className: 'nbtrack-notice nbtrack-notice-error',
    text: error.message
  });
}

/** The first `count` lines of a cell source, with an ellipsis line when cut. */
export function firstLines(source: string, count: number): string {
  const lines = source.split('\n');
  return lines.length <= count
    ? source
    : [...lines.slice(0, count), `… (${lines.length - count} more lines)`].join(
        '\n'
      );
}
