import type { Kernel, KernelMessage } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  helloMessage,
  mayLoadExtension,
  notebookMessage,
  parseKernelMessage,
  SnapshotConnection
} from '../src/comm';
import { COMM_TARGET, IActiveRun } from '../src/tokens';

const RUN: IActiveRun = {
  run_id: 'abc',
  run_name: 'baseline',
  experiment_id: '1',
  experiment_name: 'mnist',
  start_time: 1_700_000_000_000,
  tracking_uri: 'sqlite:///x/.nbtrack/nbtrack.db'
};

describe('protocol messages', () => {
  it('builds the hello and notebook messages of protocol 1', () => {
    expect(helloMessage('jupyterlab-nbtrack 0.1.0')).toEqual({
      type: 'hello',
      protocol: 1,
      frontend: 'jupyterlab-nbtrack 0.1.0'
    });
    const nb = { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] };
    expect(notebookMessage('dir/a.ipynb', nb, 42)).toEqual({
      type: 'notebook',
      protocol: 1,
      path: 'dir/a.ipynb',
      notebook: nb,
      sent_at: 42
    });
  });

  it('reads request and run messages', () => {
    expect(parseKernelMessage({ type: 'request', protocol: 1 })).toEqual({
      kind: 'request'
    });
    expect(parseKernelMessage({ type: 'run', protocol: 1, run: null })).toEqual(
      { kind: 'run', run: null }
    );
    expect(parseKernelMessage({ type: 'run', protocol: 1, run: RUN })).toEqual({
      kind: 'run',
      run: RUN
    });
  });

  it('ignores other protocols, unknown types and malformed runs', () => {
    const ignored = (data: unknown): string => {
      const action = parseKernelMessage(data);
      return action.kind === 'ignore' ? action.reason : 'not ignored';
    };
    expect(ignored({ type: 'request', protocol: 2 })).toContain('protocol 2');
    expect(ignored({ type: 'request', protocol: 2 })).toContain(
      'update nbtrack and jupyterlab-nbtrack together'
    );
    expect(ignored({ type: 'bogus', protocol: 1 })).toContain('unknown type');
    expect(ignored({ type: 'run', protocol: 1, run: { run_id: 3 } })).toContain(
      'valid run'
    );
    expect(ignored([1, 2])).toBe('not an object');
    expect(ignored(null)).toBe('not an object');
  });

  it('retries after code that may load nbtrack', () => {
    expect(mayLoadExtension('%load_ext nbtrack')).toBe(true);
    expect(mayLoadExtension('%reload_ext nbtrack\n%track start')).toBe(true);
    expect(mayLoadExtension('x = 1')).toBe(false);
  });
});

/** The parts of a comm the connection uses, recording what was sent. */
class FakeComm {
  constructor(readonly targetName: string) {}
  readonly commId = `comm-${Math.random()}`;
  isDisposed = false;
  opened: unknown[] = [];
  sent: unknown[] = [];
  closed = 0;
  onMsg: (msg: KernelMessage.ICommMsgMsg) => void = () => undefined;
  onClose: (msg: KernelMessage.ICommCloseMsg) => void = () => undefined;

  open(data: unknown) {
    this.opened.push(data);
    return { done: Promise.resolve() };
  }
  send(data: unknown) {
    this.sent.push(data);
    return { done: Promise.resolve() };
  }
  close() {
    this.closed += 1;
    this.isDisposed = true;
  }
  /** The kernel sends a comm message. */
  receive(data: unknown): void {
    this.onMsg({ content: { data } } as unknown as KernelMessage.ICommMsgMsg);
  }
  /** The kernel closes the comm (unknown target, %unload_ext). */
  kernelCloses(): void {
    this.onClose({} as KernelMessage.ICommCloseMsg);
    this.isDisposed = true;
  }
}

/** The parts of a kernel connection the snapshot connection uses. */
class FakeKernel {
  status: KernelMessage.Status = 'idle';
  isDisposed = false;
  comms: FakeComm[] = [];
  statusChanged = new Signal<this, KernelMessage.Status>(this);
  iopubMessage = new Signal<this, KernelMessage.IIOPubMessage>(this);

  createComm(target: string): FakeComm {
    const comm = new FakeComm(target);
    this.comms.push(comm);
    return comm;
  }
  setStatus(status: KernelMessage.Status): void {
    this.status = status;
    this.statusChanged.emit(status);
  }
  executeInput(code: string): void {
    this.iopubMessage.emit({
      header: { msg_type: 'execute_input' },
      content: { code, execution_count: 1 }
    } as unknown as KernelMessage.IIOPubMessage);
  }
  get last(): FakeComm {
    return this.comms[this.comms.length - 1];
  }
  asKernel(): Kernel.IKernelConnection {
    return this as unknown as Kernel.IKernelConnection;
  }
}

describe('SnapshotConnection', () => {
  let notebook: Record<string, unknown>;
  let connection: SnapshotConnection;
  let kernel: FakeKernel;

  beforeEach(() => {
    vi.useFakeTimers();
    notebook = { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] };
    connection = new SnapshotConnection(
      { path: () => 'a.ipynb', notebook: () => notebook },
      { frontend: 'jupyterlab-nbtrack 0.1.0', debounceMs: 1000, now: () => 7 }
    );
    kernel = new FakeKernel();
  });

  afterEach(() => {
    connection.dispose();
    vi.useRealTimers();
  });

  it('opens with the hello and sends the notebook right after', () => {
    connection.setKernel(kernel.asKernel());
    expect(kernel.comms).toHaveLength(1);
    expect(kernel.last.targetName).toBe(COMM_TARGET);
    expect(kernel.last.opened).toEqual([
      helloMessage('jupyterlab-nbtrack 0.1.0')
    ]);
    expect(kernel.last.sent).toEqual([notebookMessage('a.ipynb', notebook, 7)]);
    expect(connection.isOpen).toBe(true);
  });

  it('waits for an idle kernel before opening', () => {
    kernel.status = 'starting';
    connection.setKernel(kernel.asKernel());
    expect(kernel.comms).toHaveLength(0);
    kernel.setStatus('idle');
    expect(kernel.comms).toHaveLength(1);
  });

  it('answers a request with the notebook as it is now', () => {
    connection.setKernel(kernel.asKernel());
    notebook = { ...notebook, cells: [{ id: 'x' }] };
    kernel.last.receive({ type: 'request', protocol: 1 });
    expect(kernel.last.sent).toHaveLength(2);
    expect(kernel.last.sent[1]).toEqual(
      notebookMessage('a.ipynb', notebook, 7)
    );
  });

  it('debounces changes into one message', () => {
    connection.setKernel(kernel.asKernel());
    connection.scheduleSend();
    vi.advanceTimersByTime(500);
    connection.scheduleSend();
    vi.advanceTimersByTime(999);
    expect(kernel.last.sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(kernel.last.sent).toHaveLength(2);
  });

  it('keeps the active run from run messages and signals changes', () => {
    const seen: (IActiveRun | null)[] = [];
    connection.runChanged.connect((_, run) => seen.push(run));
    connection.setKernel(kernel.asKernel());
    kernel.last.receive({ type: 'run', protocol: 1, run: RUN });
    kernel.last.receive({ type: 'run', protocol: 1, run: RUN });
    expect(connection.activeRun).toEqual(RUN);
    kernel.last.receive({ type: 'run', protocol: 1, run: null });
    expect(connection.activeRun).toBeNull();
    expect(seen).toEqual([RUN, null]);
  });

  it('ignores messages of another protocol', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    connection.setKernel(kernel.asKernel());
    kernel.last.receive({ type: 'run', protocol: 2, run: RUN });
    expect(connection.activeRun).toBeNull();
    expect(warn).toHaveBeenCalledOnce();
    warn.mockRestore();
  });

  it('retries a refused open only after code that loads nbtrack', () => {
    connection.setKernel(kernel.asKernel());
    kernel.last.kernelCloses(); // the target is not registered yet
    expect(connection.isOpen).toBe(false);
    // Status changes alone (e.g. caused by the refused open) do not retry.
    kernel.setStatus('busy');
    kernel.setStatus('idle');
    kernel.executeInput('x = 1');
    kernel.setStatus('idle');
    expect(kernel.comms).toHaveLength(1);
    kernel.executeInput('%load_ext nbtrack');
    kernel.setStatus('busy');
    expect(kernel.comms).toHaveLength(1);
    kernel.setStatus('idle');
    expect(kernel.comms).toHaveLength(2);
    expect(connection.isOpen).toBe(true);
  });

  it('reopens after a kernel restart and forgets the old run', () => {
    connection.setKernel(kernel.asKernel());
    kernel.last.receive({ type: 'run', protocol: 1, run: RUN });
    kernel.setStatus('restarting');
    expect(connection.activeRun).toBeNull();
    expect(connection.isOpen).toBe(false);
    kernel.setStatus('idle');
    expect(kernel.comms).toHaveLength(2);
    expect(kernel.last.opened).toHaveLength(1);
  });

  it('connect() reopens at once (after %load_ext from a command)', () => {
    connection.setKernel(kernel.asKernel());
    kernel.last.kernelCloses();
    expect(connection.connect()).toBe(true);
    expect(kernel.comms).toHaveLength(2);
    expect(connection.connect()).toBe(true); // already open: no new comm
    expect(kernel.comms).toHaveLength(2);
  });

  it('closes its comm when disposed and follows a new kernel', () => {
    connection.setKernel(kernel.asKernel());
    const first = kernel.last;
    const other = new FakeKernel();
    connection.setKernel(other.asKernel());
    expect(other.comms).toHaveLength(1);
    kernel.setStatus('restarting');
    kernel.setStatus('idle');
    expect(kernel.comms).toHaveLength(1); // the old kernel is no longer followed
    connection.dispose();
    expect(other.last.closed).toBe(1);
    expect(first.closed).toBe(0);
  });
});
