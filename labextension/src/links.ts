/**
 * Cell provenance links, the pure part (linkhandler.ts follows them). The
 * compare panel (`nbtrack.ui.compare`, `%track compare`) renders, per metric, the cells that logged it as
 * `<a class="nbtrack-cell-link" data-nbtrack-cell-id=… data-nbtrack-run-id=…>`.
 * In a notebook, a click (or Enter) on one activates that cell: in the notebook
 * holding the output, else in the run's notebook when it is open, else a notice.
 *
 * The kernel's HTML has no href (the panel is plain text elsewhere), so the
 * links get tabindex and role here. JupyterLab's sanitizer drops data-*
 * attributes from untrusted outputs: links only work in trusted outputs (those
 * produced in the session, or of a trusted notebook); the others stay text.
 */

/** A provenance link that can be followed (untrusted outputs lose the data-*). */
export const CELL_LINK_SELECTOR = 'a.nbtrack-cell-link[data-nbtrack-cell-id]';

/** Where a provenance link points. */
export interface ICellLink {
  cellId: string;
  runId: string | null;
}

/** A notebook as far as choosing one goes: its path and its cells' ids. */
export interface INotebookCells {
  path: string;
  cellIds: readonly (string | undefined)[];
}

/**
 * The provenance link at `target` (the element or one of its ancestors),
 * inside a rendered output; null when there is none or it has no cell id.
 */
export function cellLinkAt(target: EventTarget | null): HTMLElement | null {
  if (!(target instanceof Element)) {
    return null;
  }
  const link = target.closest<HTMLElement>(CELL_LINK_SELECTOR);
  return link?.closest('.jp-OutputArea-output') ? link : null;
}

/** The cell and run a link element names; null without a cell id. */
export function readCellLink(element: Element): ICellLink | null {
  const cellId = element.getAttribute('data-nbtrack-cell-id')?.trim();
  if (!cellId) {
    return null;
  }
  const runId = element.getAttribute('data-nbtrack-run-id')?.trim();
  return { cellId, runId: runId || null };
}

/**
 * The notebook to reveal `cellId` in: `holder` (the notebook showing the link)
 * when it has the cell, else the open notebook at `runNotebook` (the run's
 * notebook, server-relative) when it has it; null otherwise.
 */
export function chooseNotebook<T extends INotebookCells>(
  cellId: string,
  holder: T | null,
  open: readonly T[],
  runNotebook: string | null
): T | null {
  if (holder?.cellIds.includes(cellId)) {
    return holder;
  }
  const candidate = runNotebook
    ? open.find(nb => nb.path === runNotebook)
    : undefined;
  return candidate?.cellIds.includes(cellId) ? candidate : null;
}

/**
 * Why a link could not be followed. `runNotebook` is the run's notebook (null:
 * unknown); `runNotebookOpen` whether it is open (then it lacks the cell).
 */
export function notFoundMessage(
  runNotebook: string | null,
  runNotebookOpen: boolean
): string {
  if (runNotebook && runNotebookOpen) {
    return `That cell is no longer in ${runNotebook} (deleted, or the notebook was reloaded from another copy).`;
  }
  const where = runNotebook ? ` It ran in ${runNotebook}.` : '';
  return `That cell is not in any open notebook.${where}`;
}

/** Make the followable links under `root` focusable and announced as links. */
export function enhanceCellLinks(root: Element): void {
  const links: Element[] = root.matches(CELL_LINK_SELECTOR) ? [root] : [];
  links.push(...Array.from(root.querySelectorAll(CELL_LINK_SELECTOR)));
  for (const link of links) {
    if (!link.hasAttribute('tabindex')) {
      link.setAttribute('tabindex', '0');
    }
    link.setAttribute('role', 'link');
    if (!link.hasAttribute('title')) {
      link.setAttribute('title', 'Go to this cell');
    }
  }
}
