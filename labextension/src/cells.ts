/**
 * "Go to cell": select a timeline cell, by cell id, in its notebook.
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
  await panel.context.ready;
  const notebook = panel.content;
  const index = findCellIndex(
    notebook.widgets.map(cell => cell.model.id),
    cellId
  );
  if (index < 0) {
    return 'That cell is no longer in the notebook (it was deleted or the notebook was reloaded from another copy).';
  }
  app.shell.activateById(panel.id);
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  notebook.mode = 'command';
  await notebook.scrollToItem(index, 'center');
  notebook.activeCell?.node.focus();
  return null;
}
