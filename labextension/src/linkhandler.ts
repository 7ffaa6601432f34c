/**
 * Following cell provenance links (links.ts) in every open notebook: a
 * delegated click / Enter handler per notebook, and the links made focusable
 * as outputs render.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import type { NbtrackApi } from './api';
import { goToCell, revealCell } from './cells';
import {
  cellLinkAt,
  chooseNotebook,
  enhanceCellLinks,
  type ICellLink,
  notFoundMessage,
  readCellLink
} from './links';

/** What {@link CellLinks} needs from the plugin. */
export interface ICellLinksOptions {
  app: JupyterFrontEnd;
  tracker: INotebookTracker;
  api: NbtrackApi;
}

/** Follows provenance links in every notebook of `tracker`. */
export class CellLinks {
  constructor(private readonly _options: ICellLinksOptions) {}

  /** Handle the links of `panel` until the returned disposable is disposed. */
  watch(panel: NotebookPanel): IDisposable {
    const node = panel.content.node;
    const onEvent = (event: Event): void => {
      if (event instanceof KeyboardEvent && event.key !== 'Enter') {
        return;
      }
      const element = cellLinkAt(event.target);
      const link = element ? readCellLink(element) : null;
      if (!link) {
        return;
      }
      // Enter would otherwise put the output's cell into edit mode.
      event.preventDefault();
      event.stopPropagation();
      void this.follow(panel, link);
    };
    // Outputs render after the panel exists (and again on every run):
    // enhance the links as they arrive.
    const observer = new MutationObserver(records => {
      for (const record of records) {
        for (const added of Array.from(record.addedNodes)) {
          if (added instanceof Element) {
            enhanceCellLinks(added);
          }
        }
      }
    });
    observer.observe(node, { childList: true, subtree: true });
    enhanceCellLinks(node);
    node.addEventListener('click', onEvent);
    node.addEventListener('keydown', onEvent);
    return new DisposableDelegate(() => {
      observer.disconnect();
      node.removeEventListener('click', onEvent);
      node.removeEventListener('keydown', onEvent);
    });
  }

  /** Reveal the cell `link` names, starting from the notebook `holder`. */
  async follow(holder: NotebookPanel, link: ICellLink): Promise<void> {
    const { app, tracker, api } = this._options;
    const describe = (panel: NotebookPanel) => ({
      panel,
      path: panel.context.path,
      cellIds: panel.content.widgets.map(cell => cell.model.id)
    });
    const here = describe(holder);
    let runNotebook: string | null = null;
    if (!here.cellIds.includes(link.cellId) && link.runId) {
      // The holder's path picks the store the run lives in.
      runNotebook = await api
        .run(link.runId, here.path)
        .then(run => run.notebook)
        .catch(() => null);
    }
    const open: ReturnType<typeof describe>[] = [];
    tracker.forEach(panel => open.push(describe(panel)));
    const target = chooseNotebook(link.cellId, here, open, runNotebook);
    if (target) {
      await revealCell(app, target.panel, link.cellId);
      return;
    }
    const isOpen = open.some(nb => nb.path === runNotebook);
    const actions: Notification.IAction[] =
      runNotebook && !isOpen
        ? [
            {
              label: 'Open notebook',
              caption: `Open ${runNotebook} at that cell`,
              callback: () => {
                void goToCell(app, tracker, runNotebook, link.cellId).then(
                  message => {
                    if (message) {
                      Notification.warning(message, { autoClose: 8000 });
                    }
                  }
                );
              }
            }
          ]
        : [];
    Notification.warning(notFoundMessage(runNotebook, isOpen), {
      autoClose: 8000,
      actions
    });
  }
}
