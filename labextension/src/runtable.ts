/**
 * The run table of the Experiments view: virtualized (only the rows in sight
 * are in the DOM, so 10,000 runs open at once), sortable by any column,
 * grouped by a param, with a checkbox per run for the charts and compare tabs.
 *
 * Keyboard: the header's sort buttons are in the tab order; the body is one tab
 * stop (a grid) where arrows, Home/End and PageUp/PageDown move, Space selects
 * the run (or folds a group) and Enter opens it.
 */
import { Message } from '@lumino/messaging';
import { Signal, ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import { clear, h } from './dom';
import {
  formatElapsed,
  formatMetric,
  formatTime,
  metricTitle,
  statusSlug
} from './format';
import {
  cellValue,
  IColumn,
  ISort,
  sortRuns,
  tableRows,
  TableRow
} from './tablemodel';
import { IRunSummary } from './tokens';

/** Height of a row in pixels (the CSS says the same: .nbtrack-xp-row). */
export const ROW_HEIGHT = 26;
/** Rows drawn above and below the visible ones. */
const OVERSCAN = 10;
/** At most this many runs can be selected (the charts and compare tabs). */
export const MAX_SELECTED = 20;

/** Options of {@link RunTable}. */
export interface IRunTableOptions {
  /** Open a run (Enter or double click). */
  openRun: (run: IRunSummary) => void;
  /** Clock of running durations. */
  now?: () => number;
}

/** The virtualized run table (class `nbtrack-xp-table`). */
export class RunTable extends Widget {
  constructor(private readonly _options: IRunTableOptions) {
    super();
    this.addClass('nbtrack-xp-table');
    this._header = h('div', {
      className: 'nbtrack-xp-header',
      attrs: { role: 'row' }
    });
    this._body = h('div', {
      className: 'nbtrack-xp-body',
      attrs: {
        role: 'grid',
        tabindex: '0',
        'aria-label': 'Runs',
        'aria-multiselectable': 'true'
      }
    });
    this._spacer = h('div', { className: 'nbtrack-xp-spacer' });
    this._window = h('div', {
      className: 'nbtrack-xp-window',
      attrs: { role: 'rowgroup' }
    });
    this._spacer.appendChild(this._window);
    this._body.appendChild(this._spacer);
    this._empty = h('div', { className: 'nbtrack-empty nbtrack-xp-empty' });
    this._empty.hidden = true;
    this.node.append(this._header, this._empty, this._body);
    this._body.addEventListener('scroll', () => this._draw());
    this._body.addEventListener('keydown', event => this._onKey(event));
    this._body.addEventListener('focus', () => this._draw());
  }

  /** Emitted when the selection changes (ids in the order they were selected). */
  get selectionChanged(): ISignal<this, string[]> {
    return this._selectionChanged;
  }

  /** The selected run ids, in the order they were selected. */
  get selected(): string[] {
    return [...this._selected];
  }

  /** The runs as displayed (sorted), without group headers. */
  get displayedRuns(): IRunSummary[] {
    return this._sorted;
  }

  /** The run objects of the selection, as last loaded. */
  selectedRuns(): IRunSummary[] {
    return this.selected
      .map(id => this._known.get(id))
      .filter((r): r is IRunSummary => r !== undefined);
  }

  /**
   * Show these runs (keeps the sort and grouping). The selection survives a new
   * filter: runs can be picked from several searches, then charted together.
   */
  setRuns(runs: readonly IRunSummary[], emptyText = 'No runs.'): void {
    this._runs = [...runs];
    for (const run of runs) {
      if (this._known.has(run.run_id) || this._selected.includes(run.run_id)) {
        this._known.set(run.run_id, run);
      }
    }
    this._empty.textContent = emptyText;
    this._rebuild();
  }

  /** The columns to show, in order. */
  setColumns(columns: readonly IColumn[]): void {
    this._columns = [...columns];
    this._renderHeader();
    this._lastDrawn = '';
    this._draw();
  }

  /** Sort by a column (null: the server's order). */
  setSort(sort: ISort | null): void {
    this._sort = sort;
    this._renderHeader();
    this._rebuild();
  }

  get sort(): ISort | null {
    return this._sort;
  }

  /** Group rows by a param's value (null: no groups). */
  setGroup(param: string | null): void {
    this._group = param;
    this._collapsed.clear();
    this._rebuild();
  }

  /** Select exactly these runs (the first MAX_SELECTED). */
  select(ids: readonly string[]): void {
    this._selected = [...new Set(ids)].slice(0, MAX_SELECTED);
    for (const run of this._runs) {
      if (this._selected.includes(run.run_id)) {
        this._known.set(run.run_id, run);
      }
    }
    this._lastDrawn = '';
    this._draw();
    this._selectionChanged.emit(this.selected);
  }

  /** Add a run to the selection, or remove it. */
  toggle(runId: string): void {
    const run = this._runs.find(r => r.run_id === runId);
    if (run) {
      this._known.set(runId, run);
    }
    const at = this._selected.indexOf(runId);
    if (at >= 0) {
      this._selected.splice(at, 1);
    } else if (this._selected.length < MAX_SELECTED) {
      this._selected.push(runId);
    } else {
      this._announce(
        `At most ${MAX_SELECTED} runs can be selected; unselect one first.`
      );
      return;
    }
    this._lastDrawn = '';
    this._draw();
    this._selectionChanged.emit(this.selected);
  }

  /** Focus the grid (the active row is announced). */
  focusGrid(): void {
    this._body.focus();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._lastDrawn = '';
    this._draw();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._draw();
  }

  private _rebuild(): void {
    const now = (this._options.now ?? Date.now)();
    this._sorted = sortRuns(this._runs, this._sort, now);
    this._rows = tableRows(this._sorted, this._group, this._collapsed);
    this._active = Math.min(this._active, Math.max(0, this._rows.length - 1));
    this._spacer.style.height = `${this._rows.length * ROW_HEIGHT}px`;
    this._body.setAttribute('aria-rowcount', String(this._rows.length));
    this._empty.hidden = this._runs.length > 0;
    this._lastDrawn = '';
    this._draw();
  }

  private _renderHeader(): void {
    clear(this._header);
    this._header.appendChild(
      h('span', {
        className: 'nbtrack-xp-cell nbtrack-xp-check',
        attrs: { role: 'columnheader', 'aria-label': 'Selected' }
      })
    );
    for (const column of this._columns) {
      const sorted = this._sort?.column.id === column.id;
      const direction = sorted
        ? this._sort?.descending
          ? 'descending'
          : 'ascending'
        : 'none';
      const button = h('button', {
        className: 'nbtrack-xp-sort',
        text: `${column.label}${sorted ? (this._sort?.descending ? ' ▼' : ' ▲') : ''}`,
        title: `Sort by ${column.label}`,
        attrs: { type: 'button' }
      });
      button.addEventListener('click', () => {
        const descending = sorted
          ? !this._sort?.descending
          : column.kind === 'metric' || column.name === 'start_time';
        this.setSort({ column, descending });
        // The header was redrawn: give the focus to the same column's button.
        Array.from(this._header.querySelectorAll<HTMLElement>('[data-column]'))
          .find(cell => cell.dataset.column === column.id)
          ?.querySelector('button')
          ?.focus();
      });
      this._header.appendChild(
        h(
          'span',
          {
            className: `nbtrack-xp-cell nbtrack-xp-col-${column.kind}`,
            attrs: { role: 'columnheader', 'aria-sort': direction },
            dataset: { column: column.id }
          },
          [button]
        )
      );
    }
  }

  /** Draw the rows in sight (and a few around them). */
  private _draw(): void {
    if (!this.isVisible && this._lastDrawn !== '') {
      return;
    }
    const height = this._body.clientHeight || 600;
    const top = this._body.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(
      this._rows.length,
      Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN
    );
    const signature = `${first}:${last}:${this._active}:${this._rows.length}`;
    if (signature === this._lastDrawn) {
      return;
    }
    this._lastDrawn = signature;
    const now = (this._options.now ?? Date.now)();
    const selected = new Set(this._selected);
    const fragment = document.createDocumentFragment();
    for (let i = first; i < last; i++) {
      fragment.appendChild(this._row(this._rows[i], i, selected, now));
    }
    this._window.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
    this._window.replaceChildren(fragment);
    const active = this._rows[this._active];
    if (active) {
      this._body.setAttribute(
        'aria-activedescendant',
        this._rowId(this._active)
      );
    } else {
      this._body.removeAttribute('aria-activedescendant');
    }
  }

  private _rowId(index: number): string {
    return `${this.id || 'nbtrack-xp'}-row-${index}`;
  }

  private _row(
    row: TableRow,
    index: number,
    selected: Set<string>,
    now: number
  ): HTMLElement {
    const active = index === this._active;
    if (row.type === 'group') {
      const element = h('div', {
        className: `nbtrack-xp-row nbtrack-xp-group${active ? ' nbtrack-mod-active' : ''}`,
        attrs: {
          id: this._rowId(index),
          role: 'row',
          'aria-rowindex': String(index + 1),
          'aria-expanded': String(!row.collapsed)
        },
        dataset: { group: row.group.value }
      });
      element.appendChild(
        h('span', {
          className: 'nbtrack-xp-cell nbtrack-xp-group-label',
          text: `${row.collapsed ? '▸' : '▾'} ${this._group} = ${row.group.value || '(none)'} (${row.group.runs.length})`,
          attrs: { role: 'gridcell' }
        })
      );
      element.addEventListener('click', () => {
        this._active = index;
        this._toggleGroup(row.group.value);
      });
      return element;
    }
    const run = row.run;
    const isSelected = selected.has(run.run_id);
    const status = statusSlug(run.status);
    const element = h('div', {
      className:
        `nbtrack-xp-row nbtrack-xp-run${isSelected ? ' nbtrack-mod-selected' : ''}` +
        `${active ? ' nbtrack-mod-active' : ''}`,
      attrs: {
        id: this._rowId(index),
        role: 'row',
        'aria-rowindex': String(index + 1),
        'aria-selected': String(isSelected)
      },
      dataset: { runId: run.run_id, status }
    });
    const check = h('input', {
      className: 'nbtrack-xp-checkbox',
      attrs: {
        type: 'checkbox',
        tabindex: '-1',
        'aria-label': `Select ${run.run_name}`
      }
    });
    check.checked = isSelected;
    element.appendChild(
      h(
        'span',
        {
          className: 'nbtrack-xp-cell nbtrack-xp-check',
          attrs: { role: 'gridcell' }
        },
        [check]
      )
    );
    for (const column of this._columns) {
      element.appendChild(this._cell(run, column, now));
    }
    element.addEventListener('click', () => {
      this._active = index;
      this.toggle(run.run_id);
    });
    element.addEventListener('dblclick', () => this._options.openRun(run));
    return element;
  }

  private _cell(run: IRunSummary, column: IColumn, now: number): HTMLElement {
    const value = cellValue(run, column, now);
    let text: string;
    let title: string;
    if (column.kind === 'metric') {
      const metric = value as number | null | undefined;
      text = formatMetric(metric);
      title = metricTitle(metric);
    } else if (column.id === 'attr:start_time') {
      text = formatTime(run.start_time);
      title = new Date(run.start_time).toString();
    } else if (column.id === 'attr:duration') {
      text = formatElapsed(run.start_time, run.end_time ?? now);
      title = run.end_time === null ? 'running' : '';
    } else if (column.id === 'attr:status') {
      const status = statusSlug(run.status);
      return h(
        'span',
        {
          className: 'nbtrack-xp-cell nbtrack-xp-col-attr',
          attrs: { role: 'gridcell' }
        },
        [
          h('span', {
            className: `nbtrack-status nbtrack-status-${status}`,
            text: status,
            title: status
          })
        ]
      );
    } else {
      text = value === undefined || value === null ? '' : String(value);
      title = text;
    }
    return h('span', {
      className: `nbtrack-xp-cell nbtrack-xp-col-${column.kind}${
        column.id === 'attr:run_name' ? ' nbtrack-xp-name' : ''
      }`,
      text,
      title,
      attrs: { role: 'gridcell' }
    });
  }

  private _toggleGroup(value: string): void {
    if (this._collapsed.has(value)) {
      this._collapsed.delete(value);
    } else {
      this._collapsed.add(value);
    }
    this._rows = tableRows(this._sorted, this._group, this._collapsed);
    this._spacer.style.height = `${this._rows.length * ROW_HEIGHT}px`;
    this._body.setAttribute('aria-rowcount', String(this._rows.length));
    this._lastDrawn = '';
    this._draw();
  }

  private _onKey(event: KeyboardEvent): void {
    const page = Math.max(
      1,
      Math.floor(this._body.clientHeight / ROW_HEIGHT) - 1
    );
    const moves: Record<string, number> = {
      ArrowDown: 1,
      ArrowUp: -1,
      PageDown: page,
      PageUp: -page,
      Home: -Infinity,
      End: Infinity
    };
    const row = this._rows[this._active];
    if (event.key in moves) {
      event.preventDefault();
      const target = this._active + moves[event.key];
      this._active = Math.max(
        0,
        Math.min(
          this._rows.length - 1,
          Number.isFinite(target)
            ? target
            : target > 0
              ? this._rows.length - 1
              : 0
        )
      );
      this._scrollIntoView();
      this._lastDrawn = '';
      this._draw();
    } else if (event.key === ' ' && row) {
      event.preventDefault();
      if (row.type === 'group') {
        this._toggleGroup(row.group.value);
      } else {
        this.toggle(row.run.run_id);
      }
    } else if (event.key === 'Enter' && row) {
      event.preventDefault();
      if (row.type === 'group') {
        this._toggleGroup(row.group.value);
      } else {
        this._options.openRun(row.run);
      }
    }
  }

  private _scrollIntoView(): void {
    const top = this._active * ROW_HEIGHT;
    const body = this._body;
    if (top < body.scrollTop) {
      body.scrollTop = top;
    } else if (top + ROW_HEIGHT > body.scrollTop + body.clientHeight) {
      body.scrollTop = top + ROW_HEIGHT - body.clientHeight;
    }
  }

  private _announce(message: string): void {
    this._empty.hidden = false;
    this._empty.textContent = message;
    setTimeout(() => {
      this._empty.hidden = this._runs.length > 0;
    }, 4000);
  }

  private readonly _header: HTMLDivElement;
  private readonly _body: HTMLDivElement;
  private readonly _spacer: HTMLDivElement;
  private readonly _window: HTMLDivElement;
  private readonly _empty: HTMLDivElement;
  private readonly _selectionChanged = new Signal<this, string[]>(this);
  private _runs: IRunSummary[] = [];
  private _sorted: IRunSummary[] = [];
  private _rows: TableRow[] = [];
  private _columns: IColumn[] = [];
  private _sort: ISort | null = null;
  private _group: string | null = null;
  private readonly _collapsed = new Set<string>();
  private _selected: string[] = [];
  /** The selected runs' summaries (a selected run may be filtered out of the table). */
  private readonly _known = new Map<string, IRunSummary>();
  private _active = 0;
  private _lastDrawn = '';
}
