/**
 * The "Runs" left sidebar: the runs of the notebook in focus first, then the
 * others (of the chosen experiment), live-updated by polling while visible.
 */
import { Poll } from '@lumino/polling';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import { NbtrackApi, ServerMissingError } from './api';
import { button, clear, errorMessage, h } from './dom';
import { ExperimentNames } from './experiments';
import { FilterBox } from './filter';
import {
  formatElapsed,
  formatMetric,
  formatShortTime,
  formatTime,
  metricTitle,
  repeatedNames,
  shortRunId,
  statusGlyph,
  statusSlug
} from './format';
import { groupRuns, keyMetrics, mergePages } from './runs';
import { Timer } from './timer';
import { IExperiment, IRunSummary, IServerStatus } from './tokens';

/** Options of {@link RunsSidebar}. */
export interface IRunsSidebarOptions {
  api: NbtrackApi;
  /** Called when a run row is clicked (or Enter is pressed on it). */
  openRun: (run: IRunSummary) => void;
  /** Polling interval while visible. */
  intervalMs?: number;
  /** Clock for running durations. */
  now?: () => number;
  /** Fed with the experiments the sidebar fetches (the run view reads names there). */
  experiments?: ExperimentNames;
  /** The refresh button's icon (JupyterLab's; a ↻ glyph by default). */
  refreshIcon?: () => Element;
}

/** Page size of GET runs. */
const PAGE_SIZE = 50;

/** A refresh faster than this shows no "Loading…" (no flicker on fast servers). */
export const LOADING_DELAY_MS = 300;

/** The table's text when the store has no run (or none matches). */
export const EMPTY_RUNS =
  'No runs yet — run `%load_ext nbtrack` then `%track start` in a notebook ' +
  'cell, or click Track in the notebook toolbar.';
export const NO_MATCH = 'No run matches the filter.';

/** The runs sidebar widget (id and class `nbtrack-sidebar`). */
export class RunsSidebar extends Widget {
  constructor(options: IRunsSidebarOptions) {
    super();
    this._api = options.api;
    this._openRun = options.openRun;
    this._now = options.now ?? Date.now;
    this._names = options.experiments ?? null;
    this.id = 'nbtrack-sidebar';
    this.addClass('nbtrack-sidebar');
    this.title.caption = 'nbtrack runs';

    this._context = h('div', { className: 'nbtrack-sidebar-context' });
    this._experiments = h('select', {
      className: 'nbtrack-experiment jp-mod-styled',
      attrs: { 'aria-label': 'Experiment' }
    });
    this._experiments.addEventListener('change', () => {
      this._userPickedExperiment = true;
      this._experimentId = this._experiments.value;
      void this.refresh();
    });
    this._filter = new FilterBox(filter => this._loadRuns(filter));
    this._notice = h('div', {
      className: 'nbtrack-notice',
      attrs: { role: 'status' }
    });
    this._notice.hidden = true;
    this._table = h('table', { className: 'nbtrack-runs nbtrack-table' });
    this._more = button('Load more', 'nbtrack-load-more', () => {
      void this._loadMore();
    });
    this._more.hidden = true;

    this._loadingLine = h('span', {
      className: 'nbtrack-loading',
      text: 'Loading…',
      attrs: { role: 'status' }
    });
    this._loadingLine.hidden = true;
    this._storeLine = h('div', { className: 'nbtrack-store-path' });
    this._storeLine.hidden = true;
    const header = h('div', { className: 'nbtrack-sidebar-header' }, [
      h('h2', { className: 'nbtrack-sidebar-title', text: 'Runs' }),
      this._loadingLine,
      iconButton(
        'Refresh runs',
        'nbtrack-refresh',
        options.refreshIcon?.() ?? h('span', { text: '↻' }),
        () => void this.refresh()
      )
    ]);
    this.node.append(
      header,
      this._context,
      this._experiments,
      this._filter.node,
      this._notice,
      h('div', { className: 'nbtrack-runs-scroll' }, [this._table]),
      this._more,
      this._storeLine
    );
    this._renderContext();

    this._poll = new Poll({
      auto: false,
      factory: () => this.refresh(false),
      frequency: { interval: options.intervalMs ?? 2500, backoff: true },
      // Nothing is fetched while the panel is collapsed or the browser tab hidden.
      standby: () => !this.isVisible || 'when-hidden',
      name: 'nbtrack:runs'
    });
  }

  /** The notebook whose runs come first (server-relative path), null when none. */
  get notebook(): string | null {
    return this._notebook;
  }

  /** The filter box (for tests and the command that focuses it). */
  get filter(): FilterBox {
    return this._filter;
  }

  /** The runs shown, in display order. */
  get runs(): readonly IRunSummary[] {
    const { current, others } = groupRuns(this._runs, this._notebook);
    return [...current, ...others];
  }

  /** Follow another notebook (the one in focus). */
  setNotebook(path: string | null): void {
    if (path === this._notebook) {
      return;
    }
    this._notebook = path;
    this._storeExists = false; // another notebook may use another store
    this._renderContext();
    if (this.isVisible) {
      void this.refresh();
    }
  }

  /**
   * The experiment of the run active in the followed notebook's kernel: shown by
   * default, unless the user picked an experiment in the list.
   */
  setActiveExperiment(experimentId: string | null): void {
    if (this._userPickedExperiment || experimentId === null) {
      return;
    }
    if (experimentId !== this._experimentId) {
      this._experimentId = experimentId;
      if (this.isVisible) {
        void this.refresh();
      }
    }
  }

  /**
   * Fetch status, experiments and runs and redraw. Never rejects: failures are
   * shown as a notice (a missing server extension with the command that fixes it).
   *
   * `indicate` (all but polling): a slow refresh shows "Loading…", and one asked
   * for while another is in flight runs again after it, so that it sees the
   * experiment or notebook just chosen.
   */
  refresh(indicate = true): Promise<void> {
    if (indicate && this._loadingLine.hidden && !this._loading.isActive) {
      this._loading.once(LOADING_DELAY_MS, () => this._setLoading(true));
    }
    if (this._refreshing) {
      this._again ||= indicate;
      return this._refreshing;
    }
    this._refreshing = (async () => {
      try {
        do {
          this._again = false;
          await this._refresh();
        } while (this._again && !this.isDisposed);
      } finally {
        this._refreshing = null;
        this._setLoading(false);
      }
    })();
    return this._refreshing;
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    void this._poll.start();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.refresh();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    this._setLoading(false); // also cancels a pending "Loading…"
    super.dispose();
  }

  /** The footer naming the store this notebook's runs come from (full URI on hover). */
  private _showStore(status: IServerStatus): void {
    const path = status.store_path;
    this._storeLine.hidden = !path;
    if (!path) {
      return;
    }
    this._storeLine.textContent = status.store_exists
      ? `Store: ${path}`
      : `Store (created by the first run): ${path}`;
    this._storeLine.title = `${path}\n${status.tracking_uri ?? ''}`.trim();
  }

  private _setLoading(loading: boolean): void {
    if (!loading) {
      this._loading.stop();
    }
    this._loadingLine.hidden = !loading;
    if (loading) {
      this.node.setAttribute('aria-busy', 'true');
    } else {
      this.node.removeAttribute('aria-busy');
    }
  }

  private async _refresh(): Promise<void> {
    try {
      if (!this._storeExists) {
        const status = await this._api.status(this._notebook);
        this._serverMissing = false;
        this._showStore(status);
        if (status.store_problem) {
          // Asked again at the next refresh: `nbtrack upgrade` may have fixed it.
          this._storeExists = false;
          this._runs = [];
          this._nextToken = null;
          this._render();
          this._showNotice(status.store_problem, 'nbtrack-notice-error');
          return;
        }
        this._storeExists = status.store_exists;
        if (!status.store_exists) {
          this._runs = [];
          this._nextToken = null;
          this._render();
          this._showNotice(
            'No nbtrack store yet for this notebook. Start a run with the ' +
              'Track button in the notebook toolbar, or run `%load_ext nbtrack` ' +
              'and `%track start` in a cell.'
          );
          return;
        }
      }
      const experiments = await this._api.experiments(this._notebook);
      this._names?.set(this._notebook, experiments);
      this._renderExperiments(experiments);
      await this._loadRuns(this._filter.current);
      this._showNotice(null);
      if (this._poll.state.phase === 'stopped') {
        void this._poll.start(); // stopped while the server extension was missing
      }
    } catch (error) {
      if (error instanceof ServerMissingError) {
        this._serverMissing = true;
        this._storeExists = false;
        this._poll.stop().catch(() => undefined);
        this._runs = [];
        this._render();
      }
      this._showNotice(errorMessage(error), 'nbtrack-notice-error');
    }
  }

  /** Load the first page(s) with `filter`; rejects (ApiError 400) on a bad filter. */
  private async _loadRuns(filter: string): Promise<void> {
    const page = await this._api.runs({
      notebook: this._notebook,
      experimentId: this._experimentId || null,
      filter,
      maxResults: Math.max(PAGE_SIZE, this._runs.length)
    });
    this._runs = page.runs;
    this._nextToken = page.next_page_token;
    this._render();
  }

  private async _loadMore(): Promise<void> {
    if (!this._nextToken) {
      return;
    }
    try {
      const page = await this._api.runs({
        notebook: this._notebook,
        experimentId: this._experimentId || null,
        filter: this._filter.current,
        maxResults: PAGE_SIZE,
        pageToken: this._nextToken
      });
      this._runs = mergePages(this._runs, page.runs);
      this._nextToken = page.next_page_token;
      this._render();
    } catch (error) {
      this._showNotice(errorMessage(error), 'nbtrack-notice-error');
    }
  }

  private _showNotice(message: string | null, className = ''): void {
    this._notice.textContent = message ?? '';
    this._notice.className = `nbtrack-notice ${className}`.trim();
    this._notice.hidden = message === null;
    if (this._serverMissing) {
      this._notice.classList.add('nbtrack-server-missing');
    }
  }

  private _renderContext(): void {
    this._context.textContent = this._notebook
      ? `Notebook: ${this._notebook}`
      : 'No notebook in focus';
    this._context.title = this._notebook ?? '';
  }

  private _renderExperiments(experiments: IExperiment[]): void {
    const signature = JSON.stringify(
      experiments.map(e => [e.experiment_id, e.name])
    );
    if (signature !== this._experimentsSignature) {
      this._experimentsSignature = signature;
      clear(this._experiments);
      this._experiments.appendChild(
        h('option', { text: 'All experiments', attrs: { value: '' } })
      );
      for (const experiment of experiments) {
        this._experiments.appendChild(
          h('option', {
            text: experiment.name,
            attrs: { value: experiment.experiment_id }
          })
        );
      }
    }
    this._experiments.value = this._experimentId;
  }

  /** Redraw the table; unchanged data only refreshes the running durations. */
  private _render(): void {
    const { current, others } = groupRuns(this._runs, this._notebook);
    const metrics = keyMetrics(this._runs);
    const signature = JSON.stringify([current, others, metrics]);
    this._more.hidden = !this._nextToken;
    if (signature === this._tableSignature) {
      this._updateDurations();
      return;
    }
    this._tableSignature = signature;
    // A redraw while a row has the keyboard focus gives it back to that run.
    const focused = this._table.contains(document.activeElement)
      ? ((document.activeElement as HTMLElement).dataset.runId ?? null)
      : null;
    clear(this._table);
    if (this._runs.length === 0) {
      if (!this._storeExists) {
        return; // the notice says how to start (or what is wrong)
      }
      this._table.appendChild(
        h('caption', {
          className: 'nbtrack-empty',
          text: this._filter.current ? NO_MATCH : EMPTY_RUNS
        })
      );
      return;
    }
    // Name and key metrics first: the sidebar is narrow; "Started" (hidden when
    // narrow, see the CSS) and the notebook are in each row's tooltip.
    const columns: [string, string, string][] = [
      ['', 'Status', 'nbtrack-col-status'],
      ['Run', 'Run name', 'nbtrack-col-name'],
      ...metrics.map((key, i): [string, string, string] => [
        key,
        `metric ${key}`,
        `nbtrack-col-metric nbtrack-col-metric-${i}`
      ]),
      ['Time', 'Duration', 'nbtrack-col-duration'],
      ['Started', 'Started', 'nbtrack-col-started']
    ];
    const headRow = h('tr');
    for (const [text, title, className] of columns) {
      headRow.appendChild(
        h('th', { text, title, className, attrs: { scope: 'col' } })
      );
    }
    this._table.appendChild(h('thead', {}, [headRow]));
    const body = h('tbody');
    const repeated = repeatedNames(this._runs);
    const groups: [string, IRunSummary[], boolean][] = [
      ['This notebook', current, true],
      [current.length ? 'Other runs' : 'Runs', others, false]
    ];
    for (const [label, runs, isCurrent] of groups) {
      if (runs.length === 0) {
        continue;
      }
      body.appendChild(
        h('tr', { className: 'nbtrack-group' }, [
          h('td', {
            text: `${label} (${runs.length})`,
            attrs: { colspan: String(columns.length) }
          })
        ])
      );
      for (const run of runs) {
        body.appendChild(
          this._row(run, metrics, isCurrent, repeated.has(run.run_name))
        );
      }
    }
    this._table.appendChild(body);
    const rows = this._rows();
    const target =
      rows.find(row => row.dataset.runId === focused) ?? rows[0] ?? null;
    if (target) {
      target.tabIndex = 0; // one tab stop for the table; arrows move inside
      if (focused !== null) {
        target.focus();
      }
    }
  }

  private _rows(): HTMLTableRowElement[] {
    return Array.from(
      this._table.querySelectorAll<HTMLTableRowElement>('tr.nbtrack-run-row')
    );
  }

  private _row(
    run: IRunSummary,
    metrics: string[],
    isCurrent: boolean,
    repeatedName: boolean
  ): HTMLTableRowElement {
    const status = statusSlug(run.status);
    const started = formatTime(run.start_time);
    const name = h('td', {
      className: 'nbtrack-run-name nbtrack-col-name',
      text: run.run_name
    });
    if (repeatedName) {
      // Another listed run has this name: its short id tells them apart.
      name.appendChild(
        h('span', {
          className: 'nbtrack-run-shortid',
          text: shortRunId(run.run_id),
          title: `run ${run.run_id}`
        })
      );
    }
    // The tooltip has what narrow widths hide (see the CSS): time, all key metrics.
    const row = h('tr', {
      className: `nbtrack-run-row${isCurrent ? ' nbtrack-current' : ''}`,
      title: [
        run.run_name,
        `${status}, started ${started}, id ${run.run_id}`,
        run.notebook ? `notebook ${run.notebook}` : '',
        ...metrics.map(key => `${key} = ${formatMetric(run.metrics?.[key])}`)
      ]
        .filter(Boolean)
        .join('\n'),
      attrs: { tabindex: '-1' },
      dataset: { runId: run.run_id, status }
    });
    const duration = h('td', {
      className: 'nbtrack-duration nbtrack-col-duration',
      text: formatElapsed(run.start_time, run.end_time ?? this._now())
    });
    if (run.end_time === null) {
      duration.dataset.start = String(run.start_time);
    }
    row.append(
      h('td', { className: 'nbtrack-col-status' }, [
        // A glyph (shape and colour) with the word for screen readers and tooltips.
        h('span', {
          className: `nbtrack-status nbtrack-status-${status}`,
          text: statusGlyph(status),
          title: status,
          attrs: { role: 'img', 'aria-label': status }
        })
      ]),
      // Truncated by CSS; the row's tooltip starts with the full name.
      name
    );
    metrics.forEach((key, i) => {
      const value = run.metrics?.[key];
      row.appendChild(
        h('td', {
          className: `nbtrack-metric nbtrack-col-metric nbtrack-col-metric-${i}`,
          text: formatMetric(value),
          title: `${key} = ${metricTitle(value)}`
        })
      );
    });
    row.append(
      duration,
      h('td', {
        className: 'nbtrack-col-started',
        text: formatShortTime(run.start_time, this._now()),
        title: started
      })
    );
    row.addEventListener('click', () => this._openRun(run));
    row.addEventListener('keydown', event => this._onRowKey(event, row, run));
    return row;
  }

  /** Enter or Space opens the run; arrows, Home and End move between rows. */
  private _onRowKey(
    event: KeyboardEvent,
    row: HTMLTableRowElement,
    run: IRunSummary
  ): void {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      this._openRun(run);
      return;
    }
    const rows = this._rows();
    const index = rows.indexOf(row);
    const next =
      event.key === 'ArrowDown'
        ? rows[index + 1]
        : event.key === 'ArrowUp'
          ? rows[index - 1]
          : event.key === 'Home'
            ? rows[0]
            : event.key === 'End'
              ? rows[rows.length - 1]
              : undefined;
    if (next) {
      event.preventDefault();
      row.tabIndex = -1;
      next.tabIndex = 0;
      next.focus();
    }
  }

  private _updateDurations(): void {
    const now = this._now();
    for (const cell of this._table.querySelectorAll<HTMLElement>(
      'td.nbtrack-duration[data-start]'
    )) {
      cell.textContent = formatElapsed(Number(cell.dataset.start), now);
    }
  }

  private readonly _api: NbtrackApi;
  private readonly _openRun: (run: IRunSummary) => void;
  private readonly _now: () => number;
  private readonly _poll: Poll;
  private readonly _context: HTMLDivElement;
  private readonly _experiments: HTMLSelectElement;
  private readonly _filter: FilterBox;
  private readonly _notice: HTMLDivElement;
  private readonly _table: HTMLTableElement;
  private readonly _more: HTMLButtonElement;
  private readonly _loadingLine: HTMLSpanElement;
  private readonly _storeLine: HTMLDivElement;
  private readonly _loading = new Timer();
  private readonly _names: ExperimentNames | null;
  private _again = false;
  private _notebook: string | null = null;
  private _experimentId = '';
  private _userPickedExperiment = false;
  private _experimentsSignature = '';
  private _tableSignature = '';
  private _runs: IRunSummary[] = [];
  private _nextToken: string | null = null;
  private _storeExists = false;
  private _serverMissing = false;
  private _refreshing: Promise<void> | null = null;
}

/** A small toolbar-style button showing an icon, labelled for screen readers. */
function iconButton(
  label: string,
  className: string,
  icon: Element,
  onClick: () => void
): HTMLButtonElement {
  const element = h('button', {
    className: `jp-ToolbarButtonComponent jp-mod-minimal jp-Button ${className}`,
    title: label,
    attrs: { type: 'button', 'aria-label': label }
  });
  element.appendChild(icon);
  element.addEventListener('click', onClick);
  return element;
}
