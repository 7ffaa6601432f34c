/**
 * "Go to cell": select a cell, by cell id, in its notebook (timeline cells,
 * provenance links).
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

/** The index of the cell with `cellId`, or -1. */
export function findCellIndex(
  cellIds: readonly (string | undefined)[],
  cellId: string
): number {
  return cellIds.indexOf(cellId);
}

/**
 * Activate the cell `cellId` of `path` (opening the notebook when it is not open)
 * and scroll to it. Resolves with a message for the user when that is not possible.
 */
export async function goToCell(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  path: string | null,
  cellId: string
): Promise<string | null> {
  let panel: NotebookPanel | null =
    (path ? tracker.find(p => p.context.path === path) : null) ??
    (path ? null : tracker.currentWidget);
  if (!panel && path) {
    const opened: unknown = await app.commands
      .execute('docmanager:open', { path })
      .catch(() => null);
    panel = tracker.find(p => p === opened) ?? null;
  }
  if (!panel) {
    return path
      ? `Could not open ${path}.`
      : 'Open the notebook of this run first.';
  }
  if (!(await revealCell(app, panel, cellId))) {
    return 'That cell is no longer in the notebook (it was deleted or the notebook was reloaded from another copy).';
  }
  return null;
}

/**
 * Activate the cell `cellId` of the open notebook `panel`, scroll it to the
 * middle and focus it (command mode). False when the notebook has no such cell.
 */
export async function revealCell(
  app: JupyterFrontEnd,
  panel: NotebookPanel,
  cellId: string
): Promise<boolean> {
  await panel.context.ready;
  const notebook = panel.content;
  const index = findCellIndex(
    notebook.widgets.map(cell => cell.model.id),
    cellId
  );
  if (index < 0) {
    return false;
  }
  app.shell.activateById(panel.id);
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  notebook.mode = 'command';
  await notebook.scrollToItem(index, 'center');
  notebook.activeCell?.node.focus();
  return true;
}
