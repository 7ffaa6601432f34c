/**
 * The Experiments view (main area): an experiment's runs in a table (column
 * chooser, sort, filter in the search grammar, grouping by a param), a chart
 * grid of every metric of the selected runs, and a compare tab.
 *
 * Every run matching the filter is loaded (pages of 1,000, fetched one after
 * another): sorting and grouping are then instant and need no server.
 */
import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';
import { NbtrackApi, ServerMissingError } from './api';
import { ChartGrid } from './chartgrid';
import { CompareView } from './compareview';
import { button, clear, errorMessage, h } from './dom';
import { FilterBox } from './filter';
import { RunTable } from './runtable';
import { availableColumns, defaultColumns, IColumn } from './tablemodel';
import { IRunSummary } from './tokens';

/** Page size when loading every run (the server's maximum). */
export const LOAD_PAGE = 1000;

/** Options of {@link ExperimentsView}. */
export interface IExperimentsViewOptions {
  api: NbtrackApi;
  /** The notebook whose store is shown (the one in focus when opened). */
  notebook: string | null;
  /** The experiment shown first (null: all). */
  experimentId?: string | null;
  /** Open one run in the run view. */
  openRun: (run: IRunSummary) => void;
}

type Tab = 'runs' | 'charts' | 'compare';
const TABS: [Tab, string][] = [
  ['runs', 'Runs'],
  ['charts', 'Charts'],
  ['compare', 'Compare']
];

/** The Experiments view (id `nbtrack-experiments`, class `nbtrack-experiments-view`). */
export class ExperimentsView extends Panel {
  constructor(private readonly _options: IExperimentsViewOptions) {
    super();
    this.addClass('nbtrack-experiments-view');
    this.title.label = 'Experiments';
    this._experimentId = _options.experimentId ?? '';

    // Toolbar: experiment, filter, columns, group by, refresh.
    this._experiment = h('select', {
      className: 'nbtrack-xp-experiment jp-mod-styled',
      attrs: { 'aria-label': 'Experiment' }
    });
    this._experiment.addEventListener('change', () => {
      this._experimentId = this._experiment.value;
      void this.load();
    });
    this._filter = new FilterBox(filter => this._loadRuns(filter));
    this._filter.input.classList.add('nbtrack-xp-filter');
    this._group = h('select', {
      className: 'nbtrack-xp-group-by jp-mod-styled',
      attrs: { 'aria-label': 'Group by param' }
    });
    this._group.addEventListener('change', () =>
      this._table.setGroup(this._group.value || null)
    );
    this._columnsMenu = h('details', { className: 'nbtrack-xp-columns' });
    this._count = h('span', {
      className: 'nbtrack-xp-count',
      attrs: { role: 'status' }
    });
    this._notice = h('div', {
      className: 'nbtrack-notice',
      attrs: { role: 'alert' }
    });
    this._notice.hidden = true;
    const toolbar = new Widget();
    toolbar.addClass('nbtrack-xp-toolbar');
    toolbar.node.append(
      h('label', {}, [
        document.createTextNode('Experiment '),
        this._experiment
      ]),
      this._filter.node,
      this._columnsMenu,
      h('label', {}, [document.createTextNode('Group by '), this._group]),
      button(
        'Refresh',
        'nbtrack-xp-refresh',
        () => void this.load(),
        'Reload the runs'
      ),
      this._count,
      this._notice
    );

    // Tabs (WAI-ARIA tabs: arrows move between them, the panel follows).
    const tablist = new Widget();
    tablist.addClass('nbtrack-xp-tabs');
    tablist.node.setAttribute('role', 'tablist');
    tablist.node.setAttribute('aria-label', 'Experiments view');
    for (const [tab, label] of TABS) {
      const element = h('button', {
        className: 'nbtrack-xp-tab',
        text: label,
        attrs: {
          type: 'button',
          role: 'tab',
          id: `nbtrack-xp-tab-${tab}`,
          'aria-controls': `nbtrack-xp-panel-${tab}`
        },
        dataset: { tab }
      });
      element.addEventListener('click', () => this.showTab(tab));
      element.addEventListener('keydown', event => this._onTabKey(event, tab));
      this._tabs.set(tab, element);
      tablist.node.appendChild(element);
    }
    this._selection = h('span', { className: 'nbtrack-xp-selection' });
    tablist.node.appendChild(this._selection);

    this._table = new RunTable({ openRun: _options.openRun });
    this._table.id = 'nbtrack-xp-panel-runs';
    this._charts = new ChartGrid({
      api: _options.api,
      notebook: () => this._options.notebook
    });
    this._charts.id = 'nbtrack-xp-panel-charts';
    this._compare = new CompareView({
      api: _options.api,
      notebook: () => this._options.notebook
    });
    this._compare.id = 'nbtrack-xp-panel-compare';
    for (const [tab, panel] of [
      ['runs', this._table],
      ['charts', this._charts],
      ['compare', this._compare]
    ] as const) {
      panel.node.setAttribute('role', 'tabpanel');
      panel.node.setAttribute('aria-labelledby', `nbtrack-xp-tab-${tab}`);
      panel.addClass('nbtrack-xp-panel');
    }
    this._table.selectionChanged.connect(() => this._selectionChanged());

    this.addWidget(toolbar);
    this.addWidget(tablist);
    this.addWidget(this._table);
    this.addWidget(this._charts);
    this.addWidget(this._compare);
    this.showTab('runs', false);
    this._selectionChanged();
  }

  /** The run table. */
  get table(): RunTable {
    return this._table;
  }

  /** The chart grid. */
  get charts(): ChartGrid {
    return this._charts;
  }

  /** The compare tab. */
  get compare(): CompareView {
    return this._compare;
  }

  /** The filter box. */
  get filter(): FilterBox {
    return this._filter;
  }

  /** The tab shown. */
  get tab(): Tab {
    return this._tab;
  }

  /** How long the last load of every run took (ms), for the benchmark. */
  get lastLoadMs(): number | null {
    return this._lastLoadMs;
  }

  /** Show a tab (and load what it shows for the current selection). */
  showTab(tab: Tab, focus = true): void {
    this._tab = tab;
    for (const [name, element] of this._tabs) {
      const selected = name === tab;
      element.setAttribute('aria-selected', String(selected));
      element.tabIndex = selected ? 0 : -1;
      if (selected && focus) {
        element.focus();
      }
    }
    this._table.setHidden(tab !== 'runs');
    this._charts.setHidden(tab !== 'charts');
    this._compare.setHidden(tab !== 'compare');
    this._refreshTab();
  }

  /** Load experiments and every run matching the filter; errors show in the notice. */
  async load(): Promise<void> {
    try {
      const status = await this._options.api.status(this._options.notebook);
      if (!status.store_exists) {
        this._showNotice(
          `No nbtrack store at ${status.tracking_uri ?? 'this location'} yet: ` +
            'start a run with %track start in a notebook.'
        );
        this._table.setRuns([], 'No runs yet.');
        return;
      }
      const experiments = await this._options.api.experiments(
        this._options.notebook
      );
      clear(this._experiment);
      this._experiment.appendChild(
        h('option', { text: 'All experiments', attrs: { value: '' } })
      );
      for (const e of experiments) {
        this._experiment.appendChild(
          h('option', { text: e.name, attrs: { value: e.experiment_id } })
        );
      }
      if (!experiments.some(e => e.experiment_id === this._experimentId)) {
        this._experimentId = '';
      }
      this._experiment.value = this._experimentId;
      await this._loadRuns(this._filter.current);
      this._showNotice(null);
    } catch (error) {
      this._showNotice(
        error instanceof ServerMissingError
          ? error.message
          : errorMessage(error)
      );
    }
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (!this._loaded) {
      this._loaded = true;
      void this.load();
    }
  }

  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    this._tabs.get(this._tab)?.focus();
  }

  /** Load every page of runs with `filter` (a 400 propagates to the filter box). */
  private async _loadRuns(filter: string): Promise<void> {
    const started = performance.now();
    this._count.textContent = 'Loading…';
    this.node.setAttribute('aria-busy', 'true');
    const runs: IRunSummary[] = [];
    let token: string | null = null;
    try {
      do {
        const page = await this._options.api.runs({
          notebook: this._options.notebook,
          experimentId: this._experimentId || null,
          filter,
          maxResults: LOAD_PAGE,
          pageToken: token
        });
        runs.push(...page.runs);
        token = page.next_page_token;
      } while (token);
    } catch (error) {
      this._count.textContent = '';
      throw error;
    } finally {
      this.node.removeAttribute('aria-busy');
    }
    const columns = availableColumns(runs);
    this._columns = columns;
    const known = new Set(columns.map(c => c.id));
    if (!this._chosen || this._chosen.every(id => !known.has(id))) {
      this._chosen = defaultColumns(runs, columns);
    }
    this._renderColumnsMenu();
    this._renderGroupBy();
    this._applyColumns();
    this._table.setRuns(
      runs,
      filter ? 'No run matches the filter.' : 'No runs yet.'
    );
    this._lastLoadMs = performance.now() - started;
    this.node.dataset.loadMs = String(Math.round(this._lastLoadMs));
    this._count.textContent = `${runs.length} runs`;
  }

  private _applyColumns(): void {
    const byId = new Map(this._columns.map(c => [c.id, c]));
    this._table.setColumns(
      (this._chosen ?? [])
        .map(id => byId.get(id))
        .filter((c): c is IColumn => !!c)
    );
  }

  private _renderColumnsMenu(): void {
    clear(this._columnsMenu);
    const chosen = new Set(this._chosen ?? []);
    this._columnsMenu.appendChild(
      h('summary', {
        text: `Columns (${chosen.size})`,
        attrs: { 'aria-label': 'Choose columns' }
      })
    );
    const list = h('fieldset', { className: 'nbtrack-xp-columns-list' }, [
      h('legend', { text: 'Columns shown' })
    ]);
    for (const column of this._columns) {
      const box = h('input', {
        attrs: { type: 'checkbox' },
        dataset: { column: column.id }
      });
      box.checked = chosen.has(column.id);
      box.addEventListener('change', () => {
        const ids = new Set(this._chosen ?? []);
        if (box.checked) {
          ids.add(column.id);
        } else {
          ids.delete(column.id);
        }
        // Keep the offered order (attributes, metrics, params, tags).
        this._chosen = this._columns.map(c => c.id).filter(id => ids.has(id));
        (this._columnsMenu.firstElementChild as HTMLElement).textContent =
          `Columns (${ids.size})`;
        this._applyColumns();
      });
      list.appendChild(
        h(
          'label',
          { className: `nbtrack-xp-col-choice nbtrack-xp-col-${column.kind}` },
          [
            box,
            document.createTextNode(
              ` ${column.kind === 'attr' ? '' : `${column.kind} `}${column.name}`
            )
          ]
        )
      );
    }
    this._columnsMenu.appendChild(list);
  }

  private _renderGroupBy(): void {
    const current = this._group.value;
    clear(this._group);
    this._group.appendChild(
      h('option', { text: 'No grouping', attrs: { value: '' } })
    );
    for (const column of this._columns.filter(c => c.kind === 'param')) {
      this._group.appendChild(
        h('option', { text: column.name, attrs: { value: column.name } })
      );
    }
    const params = new Set(
      this._columns.filter(c => c.kind === 'param').map(c => c.name)
    );
    this._group.value = params.has(current) ? current : '';
    this._table.setGroup(this._group.value || null);
  }

  private _selectionChanged(): void {
    const count = this._table.selected.length;
    this._selection.textContent = count
      ? `${count} selected`
      : 'Select runs (Space) to chart and compare them';
    this._stale = true;
    this._refreshTab();
  }

  /** Load the charts or the compare data when their tab shows a new selection. */
  private _refreshTab(): void {
    if (this._tab === 'runs') {
      return;
    }
    const key = `${this._tab}:${this._table.selected.join(',')}`;
    if (!this._stale && this._shown === key) {
      return;
    }
    this._shown = key;
    this._stale = false;
    if (this._tab === 'charts') {
      void this._charts.load(this._table.selectedRuns());
    } else {
      void this._compare.load(this._table.selected);
    }
  }

  private _onTabKey(event: KeyboardEvent, tab: Tab): void {
    const order = TABS.map(([t]) => t);
    const at = order.indexOf(tab);
    const next: Record<string, number> = {
      ArrowRight: (at + 1) % order.length,
      ArrowLeft: (at + order.length - 1) % order.length,
      Home: 0,
      End: order.length - 1
    };
    if (event.key in next) {
      event.preventDefault();
      this.showTab(order[next[event.key]]);
    } else if (event.key === 'ArrowDown' && tab === 'runs') {
      event.preventDefault();
      this._table.focusGrid();
    }
  }

  private _showNotice(message: string | null): void {
    this._notice.textContent = message ?? '';
    this._notice.hidden = message === null;
    this._notice.classList.toggle('nbtrack-notice-error', message !== null);
  }

  private readonly _experiment: HTMLSelectElement;
  private readonly _filter: FilterBox;
  private readonly _group: HTMLSelectElement;
  private readonly _columnsMenu: HTMLDetailsElement;
  private readonly _count: HTMLSpanElement;
  private readonly _notice: HTMLDivElement;
  private readonly _selection: HTMLSpanElement;
  private readonly _tabs = new Map<Tab, HTMLButtonElement>();
  private readonly _table: RunTable;
  private readonly _charts: ChartGrid;
  private readonly _compare: CompareView;
  private _experimentId: string;
  private _columns: IColumn[] = [];
  private _chosen: string[] | null = null;
  private _tab: Tab = 'runs';
  private _shown = '';
  private _stale = true;
  private _loaded = false;
  private _lastLoadMs: number | null = null;
}
