/**
 * The status-bar item shown while a run is active in the current notebook's
 * kernel: run name, elapsed time, the metric logged last and, when the run
 * logs system metrics, the kernel's latest CPU / memory / GPU use.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import { NbtrackApi } from './api';
import { SnapshotConnection } from './comm';
import { h } from './dom';
import { formatElapsed, formatMetricEntry, lastLoggedMetric } from './format';
import { formatSystemUsage, isSystemMetric, systemUsage } from './system';
import { Timer } from './timer';
import { IActiveRun, IMetricDetail } from './tokens';

const IDLE_TITLE = 'nbtrack: the run active in this kernel (click to open)';

/** The item's tooltip: run, experiment (name, else id) and what a click does. */
export function runTitle(run: IActiveRun): string {
  const experiment = run.experiment_name ?? `id ${run.experiment_id}`;
  return `nbtrack run "${run.run_name}" in experiment "${experiment}" (click to open)`;
}

/** Options of {@link RunStatusItem}. */
export interface IRunStatusItemOptions {
  api: NbtrackApi;
  /** Called on click (opens the run view). */
  onClick: (run: IActiveRun, notebook: string | null) => void;
  /** Interval of GET runs/<id> for the last metric. */
  intervalMs?: number;
  now?: () => number;
  /** Show the kernel's CPU / memory / GPU use (setting `showSystemUsage`). */
  showSystemUsage?: boolean;
}

/**
 * The status bar's two metric texts from a run's latest metrics: the run's
 * own metric logged last (system metrics left out: they are sampled every few
 * seconds and would hide it) and the kernel's usage ('' when hidden or none).
 */
export function statusTexts(
  details: Record<string, IMetricDetail> | undefined,
  showSystemUsage: boolean
): { metric: string; usage: string } {
  const own = Object.fromEntries(
    Object.entries(details ?? {}).filter(([key]) => !isSystemMetric(key))
  );
  const last = lastLoggedMetric(own);
  return {
    metric: last ? formatMetricEntry(last.key, last.detail) : '',
    usage: showSystemUsage ? formatSystemUsage(systemUsage(details)) : ''
  };
}

/** The item (class `nbtrack-status-item`); follows one notebook's connection. */
export class RunStatusItem extends Widget {
  constructor(private readonly _options: IRunStatusItemOptions) {
    super();
    this.addClass('nbtrack-status-item');
    this.node.title = IDLE_TITLE;
    // Reachable by keyboard like a button: Enter or Space opens the run.
    this.node.setAttribute('role', 'button');
    this.node.tabIndex = 0;
    this._name = h('span', { className: 'nbtrack-status-run' });
    this._elapsed = h('span', { className: 'nbtrack-status-elapsed' });
    this._metric = h('span', { className: 'nbtrack-status-metric' });
    this._usage = h('span', { className: 'nbtrack-status-usage' });
    this._showSystemUsage = _options.showSystemUsage ?? true;
    this.node.append(
      h('span', { className: 'nbtrack-status-dot', text: '●' }),
      this._name,
      this._elapsed,
      this._metric,
      this._usage
    );
    this.node.addEventListener('click', () => this._open());
    this.node.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        this._open();
      }
    });
    this._poll = new Poll({
      auto: false,
      factory: () => this._fetchMetric(),
      frequency: { interval: _options.intervalMs ?? 2000, backoff: true },
      standby: () => this.run === null || 'when-hidden',
      name: 'nbtrack:status-item'
    });
    void this._poll.start();
  }

  /** Emitted when the item should appear or disappear. */
  get activeChanged(): ISignal<this, void> {
    return this._activeChanged;
  }

  /** The run shown, null when none is active. */
  get run(): IActiveRun | null {
    return this._connection?.activeRun ?? null;
  }

  /** Whether the kernel's CPU / memory / GPU use is shown. */
  get showSystemUsage(): boolean {
    return this._showSystemUsage;
  }

  set showSystemUsage(value: boolean) {
    if (value === this._showSystemUsage) {
      return;
    }
    this._showSystemUsage = value;
    this._render();
  }

  /** Follow another notebook's connection (null: no notebook in focus). */
  setConnection(
    connection: SnapshotConnection | null,
    notebook: string | null
  ): void {
    if (connection === this._connection && notebook === this._notebook) {
      return; // already following it (and its runChanged signal)
    }
    if (this._connection) {
      this._connection.runChanged.disconnect(this._onRunChanged, this);
    }
    this._connection = connection;
    this._notebook = notebook;
    connection?.runChanged.connect(this._onRunChanged, this);
    this._onRunChanged();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    this._clock.stop();
    super.dispose();
  }

  private _open(): void {
    const run = this.run;
    if (run) {
      this._options.onClick(run, this._notebook);
    }
  }

  private _onRunChanged(): void {
    const run = this.run;
    this._details = undefined;
    this._render();
    this._clock.stop();
    if (run) {
      this._name.textContent = run.run_name;
      this.node.dataset.runId = run.run_id;
      this.node.title = runTitle(run);
      this._tick();
      this._clock.every(1000, () => this._tick());
      void this._poll.refresh();
    } else {
      this._name.textContent = '';
      this._elapsed.textContent = '';
      this.node.title = IDLE_TITLE;
      delete this.node.dataset.runId;
    }
    this._activeChanged.emit();
  }

  private _tick(): void {
    const run = this.run;
    if (run) {
      const now = (this._options.now ?? Date.now)();
      this._elapsed.textContent = formatElapsed(run.start_time, now);
    }
  }

  private async _fetchMetric(): Promise<void> {
    const run = this.run;
    if (!run) {
      return;
    }
    const detail = await this._options.api.run(run.run_id, this._notebook);
    if (this.run?.run_id !== run.run_id) {
      return; // the run changed while the request was in flight
    }
    this._details = detail.metrics_detail;
    this._render();
  }

  private _render(): void {
    const texts = statusTexts(this._details, this._showSystemUsage);
    this._metric.textContent = texts.metric;
    this._usage.textContent = texts.usage;
  }

  private readonly _name: HTMLSpanElement;
  private readonly _elapsed: HTMLSpanElement;
  private readonly _metric: HTMLSpanElement;
  private readonly _usage: HTMLSpanElement;
  private _showSystemUsage: boolean;
  private _details: Record<string, IMetricDetail> | undefined = undefined;
  private readonly _poll: Poll;
  private readonly _activeChanged = new Signal<this, void>(this);
  private _connection: SnapshotConnection | null = null;
  private _notebook: string | null = null;
  private readonly _clock = new Timer();
}
