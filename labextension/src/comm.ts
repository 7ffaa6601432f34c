/**
 * The frontend side of the live-notebook channel (comm target "nbtrack.snapshot",
 * protocol 1, specified in src/nbtrack/notebook/_comm.py).
 *
 * One SnapshotConnection per notebook panel: it opens a comm with the hello,
 * sends the notebook right after, after every change (debounced) and when the
 * kernel asks, and keeps the kernel's active run from its "run" messages.
 */
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { JSONObject } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { Timer } from './timer';
import { COMM_PROTOCOL, COMM_TARGET, IActiveRun } from './tokens';

/** The greeting carried by comm_open. */
export function helloMessage(frontend: string): JSONObject {
  return { type: 'hello', protocol: COMM_PROTOCOL, frontend };
}

/** A "notebook" message: the whole notebook, unsaved edits and outputs included. */
export function notebookMessage(
  path: string | null,
  notebook: unknown,
  sentAt: number
): JSONObject {
  return {
    type: 'notebook',
    protocol: COMM_PROTOCOL,
    path,
    notebook: notebook as JSONObject,
    sent_at: sentAt
  };
}

/** What a message from the kernel asks of the frontend. */
export type KernelMessageAction =
  | { kind: 'request' }
  | { kind: 'run'; run: IActiveRun | null }
  | { kind: 'ignore'; reason: string };

/**
 * Read one message the kernel sent: a "request" for the notebook, a "run" update,
 * or something to ignore (unknown type, other protocol, malformed run).
 */
export function parseKernelMessage(data: unknown): KernelMessageAction {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { kind: 'ignore', reason: 'not an object' };
  }
  const message = data as Record<string, unknown>;
  if (message.protocol !== COMM_PROTOCOL) {
    return {
      kind: 'ignore',
      reason: `protocol ${JSON.stringify(message.protocol)} (this extension speaks ${COMM_PROTOCOL}); update nbtrack and jupyterlab-nbtrack together`
    };
  }
  if (message.type === 'request') {
    return { kind: 'request' };
  }
  if (message.type === 'run') {
    if (message.run === null) {
      return { kind: 'run', run: null };
    }
    const run = parseActiveRun(message.run);
    return run
      ? { kind: 'run', run }
      : { kind: 'ignore', reason: 'run message without a valid run' };
  }
  return {
    kind: 'ignore',
    reason: `unknown type ${JSON.stringify(message.type)}`
  };
}

function parseActiveRun(value: unknown): IActiveRun | null {
  if (typeof value !== 'object' || value === null) {
    return null;
  }
  const run = value as Record<string, unknown>;
  if (
    typeof run.run_id !== 'string' ||
    typeof run.start_time !== 'number' ||
    typeof run.experiment_id !== 'string'
  ) {
    return null;
  }
  return {
    run_id: run.run_id,
    run_name: typeof run.run_name === 'string' ? run.run_name : run.run_id,
    experiment_id: run.experiment_id,
    experiment_name:
      typeof run.experiment_name === 'string' ? run.experiment_name : null,
    start_time: run.start_time,
    tracking_uri: typeof run.tracking_uri === 'string' ? run.tracking_uri : ''
  };
}

/** Whether executed code may have registered the comm target (so a retry may succeed). */
export function mayLoadExtension(code: string): boolean {
  return code.includes('nbtrack');
}

/** Where the connection reads the notebook it sends. */
export interface ISnapshotSource {
  /** The notebook's server-relative path, null when it has none. */
  path(): string | null;
  /** The nbformat v4 JSON of the notebook as shown (model.toJSON()). */
  notebook(): unknown;
}

/** Options of {@link SnapshotConnection}. */
export interface ISnapshotConnectionOptions {
  /** "jupyterlab-nbtrack <version>", sent in the hello. */
  frontend: string;
  /** Delay after the last change before the notebook is sent. */
  debounceMs?: number;
  /** Clock for sent_at (tests pass a fixed one). */
  now?: () => number;
}

/**
 * The comm of one notebook panel to its kernel.
 *
 * Opening a target that the kernel has not registered (nbtrack not loaded) is
 * answered by comm_close. Retrying on every kernel status change would loop (each
 * comm_open makes the kernel busy, then idle), so a closed channel is reopened on
 * the first idle after a restart, or after a cell whose code mentions nbtrack
 * (`%load_ext nbtrack`), or when a command calls {@link connect}.
 */
export class SnapshotConnection implements IDisposable {
  constructor(
    private readonly _source: ISnapshotSource,
    options: ISnapshotConnectionOptions
  ) {
    this._frontend = options.frontend;
    this._debounceMs = options.debounceMs ?? 1000;
    this._now = options.now ?? Date.now;
  }

  /** Emitted when the kernel's active run changes (null: no run). */
  get runChanged(): ISignal<this, IActiveRun | null> {
    return this._runChanged;
  }

  /** The kernel's active run, from its last "run" message. */
  get activeRun(): IActiveRun | null {
    return this._activeRun;
  }

  /** Whether a comm is open (the kernel has nbtrack loaded). */
  get isOpen(): boolean {
    return this._comm !== null && !this._comm.isDisposed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Follow `kernel` (null: none); the previous kernel's comm is dropped. */
  setKernel(kernel: Kernel.IKernelConnection | null): void {
    if (kernel === this._kernel) {
      return;
    }
    if (this._kernel) {
      this._kernel.statusChanged.disconnect(this._onStatus, this);
      this._kernel.iopubMessage.disconnect(this._onIopub, this);
    }
    this._dropComm();
    this._kernel = kernel;
    if (kernel) {
      kernel.statusChanged.connect(this._onStatus, this);
      kernel.iopubMessage.connect(this._onIopub, this);
      this._retryOnIdle = true;
      if (kernel.status === 'idle') {
        this.connect();
      }
    }
  }

  /**
   * Open the comm (hello) and send the notebook; true when the open was sent (a
   * kernel without the target answers comm_close, which resets the state).
   */
  connect(): boolean {
    const kernel = this._kernel;
    if (this._disposed || !kernel || kernel.isDisposed) {
      return false;
    }
    if (this.isOpen) {
      return true;
    }
    this._retryOnIdle = false;
    const comm = kernel.createComm(COMM_TARGET);
    this._comm = comm;
    comm.onMsg = msg => this._onMessage(msg);
    comm.onClose = () => {
      if (this._comm === comm) {
        this._comm = null;
        this._setRun(null);
      }
    };
    try {
      // Both go out on the shell channel in order: the notebook follows the hello,
      // and an execute_request sent afterwards (`%track start`) is handled after both.
      comm.open(helloMessage(this._frontend));
      this.sendNow();
    } catch (error) {
      console.warn('nbtrack: could not open the snapshot comm', error);
      this._dropComm();
      return false;
    }
    return true;
  }

  /** Send the notebook now (when the comm is open). */
  sendNow(): void {
    this._timer.stop();
    const comm = this._comm;
    if (!comm || comm.isDisposed) {
      return;
    }
    try {
      comm.send(
        notebookMessage(
          this._source.path(),
          this._source.notebook(),
          this._now()
        )
      );
    } catch (error) {
      console.warn('nbtrack: could not send the notebook', error);
    }
  }

  /** Send the notebook once no change came for the debounce delay. */
  scheduleSend(): void {
    if (!this.isOpen) {
      return;
    }
    this._timer.once(this._debounceMs, () => this.sendNow());
  }

  /** Close the comm (the panel is closing) and stop following the kernel. */
  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._timer.stop();
    const comm = this._comm;
    this.setKernel(null);
    if (comm && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // The kernel connection is already gone: nothing to tell it.
      }
    }
    this._disposed = true;
    Signal.clearData(this);
  }

  private _onMessage(msg: KernelMessage.ICommMsgMsg): void {
    const action = parseKernelMessage(msg.content.data);
    switch (action.kind) {
      case 'request':
        this.sendNow();
        break;
      case 'run':
        this._setRun(action.run);
        break;
      default:
        console.warn(`nbtrack: ignoring a kernel message: ${action.reason}`);
    }
  }

  private _onStatus(
    _kernel: Kernel.IKernelConnection,
    status: KernelMessage.Status
  ): void {
    if (
      status === 'restarting' ||
      status === 'autorestarting' ||
      status === 'dead'
    ) {
      // A restarted kernel has lost its comms (JupyterLab disposes them silently).
      this._dropComm();
      this._retryOnIdle = true;
    } else if (status === 'idle' && this._retryOnIdle && !this.isOpen) {
      this.connect();
    }
  }

  private _onIopub(
    _kernel: Kernel.IKernelConnection,
    msg: KernelMessage.IIOPubMessage
  ): void {
    if (msg.header.msg_type !== 'execute_input' || this.isOpen) {
      return;
    }
    const code = (msg as KernelMessage.IExecuteInputMsg).content.code;
    if (mayLoadExtension(code)) {
      this._retryOnIdle = true;
    }
  }

  private _setRun(run: IActiveRun | null): void {
    const changed = (this._activeRun?.run_id ?? null) !== (run?.run_id ?? null);
    this._activeRun = run;
    if (changed) {
      this._runChanged.emit(run);
    }
  }

  private _dropComm(): void {
    this._timer.stop();
    this._comm = null;
    this._setRun(null);
  }

  private readonly _frontend: string;
  private readonly _debounceMs: number;
  private readonly _now: () => number;
  private _kernel: Kernel.IKernelConnection | null = null;
  private _comm: Kernel.IComm | null = null;
  private _activeRun: IActiveRun | null = null;
  private _retryOnIdle = false;
  private readonly _timer = new Timer();
  private _disposed = false;
  private readonly _runChanged = new Signal<this, IActiveRun | null>(this);
}
