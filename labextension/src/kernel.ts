/**
 * Running nbtrack's magics in a notebook's kernel for the toolbar and commands.
 */
import type { Kernel } from '@jupyterlab/services';
import type { SnapshotConnection } from './comm';
import { KernelCode } from './tokens';

/** Run `code` silently (no history, no output area); rejects with the kernel's error. */
export async function executeSilently(
  kernel: Kernel.IKernelConnection,
  code: string
): Promise<void> {
  const future = kernel.requestExecute({
    code,
    silent: true,
    store_history: false,
    stop_on_error: true
  });
  const reply = await future.done;
  const content = reply.content;
  if (content.status === 'error') {
    throw new Error(`${content.ename}: ${content.evalue}`);
  }
  if (content.status === 'aborted') {
    throw new Error('The kernel aborted the request (an earlier cell failed).');
  }
}

/**
 * Run a `%track` line magic. When the comm is not open yet, nbtrack is loaded
 * first and the comm opened, so the kernel has the notebook (and its
 * `parameters` cell) before the magic runs; otherwise pending edits are sent now.
 */
export async function runTrackMagic(
  kernel: Kernel.IKernelConnection,
  connection: SnapshotConnection | null,
  magic: string
): Promise<void> {
  if (!connection?.isOpen) {
    await executeSilently(kernel, KernelCode.load);
    connection?.connect();
  } else {
    connection.sendNow();
  }
  await executeSilently(kernel, magic);
}
