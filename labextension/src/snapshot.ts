/**
 * One SnapshotConnection per notebook panel, following the panel's kernel and
 * notebook content.
 */
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';
import { SnapshotConnection } from './comm';
import { IActiveRun } from './tokens';

/** Keeps the live-snapshot comm of every open notebook. */
export class SnapshotProvider {
  constructor(tracker: INotebookTracker, frontend: string) {
    this._frontend = frontend;
    tracker.forEach(panel => this._add(panel));
    tracker.widgetAdded.connect((_, panel) => this._add(panel));
  }

  /** Emitted when the active run of a panel's kernel changes. */
  get runChanged(): ISignal<
    this,
    { panel: NotebookPanel; run: IActiveRun | null }
  > {
    return this._runChanged;
  }

  /**
   * The connection of `panel`, created on first use (the tracker may announce a
   * panel as current before it emits widgetAdded).
   */
  get(panel: NotebookPanel | null): SnapshotConnection | null {
    return panel && !panel.isDisposed ? this._add(panel) : null;
  }

  private _add(panel: NotebookPanel): SnapshotConnection {
    const existing = this._connections.get(panel);
    if (existing) {
      return existing;
    }
    const connection = new SnapshotConnection(
      {
        path: () => panel.context.path || null,
        notebook: () => panel.context.model.toJSON()
      },
      { frontend: this._frontend }
    );
    this._connections.set(panel, connection);
    const session = panel.sessionContext;
    const follow = (): void =>
      connection.setKernel(session.session?.kernel ?? null);
    session.kernelChanged.connect(follow);
    void session.ready.then(follow);
    panel.context.model.contentChanged.connect(() => connection.scheduleSend());
    connection.runChanged.connect((_, run) =>
      this._runChanged.emit({ panel, run })
    );
    panel.disposed.connect(() => {
      session.kernelChanged.disconnect(follow);
      connection.dispose();
      this._connections.delete(panel);
    });
    return connection;
  }

  private readonly _frontend: string;
  private readonly _connections = new Map<NotebookPanel, SnapshotConnection>();
  private readonly _runChanged = new Signal<
    this,
    { panel: NotebookPanel; run: IActiveRun | null }
  >(this);
}
