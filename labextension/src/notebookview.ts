/**
 * A read-only view of a run's notebook snapshot: sources as text, markdown and
 * outputs through JupyterLab's renderers with trust off (HTML sanitized, no scripts),
 * since a snapshot is data from the store, not the user's trusted notebook.
 */
import { OutputArea, OutputAreaModel } from '@jupyterlab/outputarea';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type * as nbformat from '@jupyterlab/nbformat';
import { Panel, Widget } from '@lumino/widgets';
import { INotebookCellJson, INotebookJson } from './api';
import { h } from './dom';

/** A cell's source as one string (nbformat allows a list of lines). */
export function cellSource(cell: INotebookCellJson): string {
  return Array.isArray(cell.source) ? cell.source.join('') : cell.source;
}

/** The snapshot of one run, read-only (class `nbtrack-snapshot-view`). */
export class SnapshotView extends Panel {
  constructor(notebook: INotebookJson, rendermime: IRenderMimeRegistry) {
    super();
    this.addClass('nbtrack-snapshot-view');
    for (const cell of notebook.cells) {
      this.addWidget(this._cell(cell, rendermime));
    }
  }

  private _cell(
    cell: INotebookCellJson,
    rendermime: IRenderMimeRegistry
  ): Widget {
    const widget = new Panel();
    widget.addClass('nbtrack-snapshot-cell');
    widget.node.dataset.cellType = cell.cell_type;
    if (cell.id) {
      widget.node.dataset.cellId = cell.id;
    }
    const source = cellSource(cell);
    if (cell.cell_type === 'markdown') {
      const renderer = rendermime.createRenderer('text/markdown');
      void renderer.renderModel(
        rendermime.createModel({
          data: { 'text/markdown': source },
          trusted: false
        })
      );
      widget.addWidget(renderer);
      return widget;
    }
    const prompt =
      cell.cell_type === 'code' ? `[${cell.execution_count ?? ' '}]:` : 'raw';
    const input = new Widget({
      node: h('div', { className: 'nbtrack-snapshot-input' }, [
        h('span', { className: 'nbtrack-snapshot-prompt', text: prompt }),
        h('pre', { className: 'nbtrack-snapshot-source', text: source })
      ])
    });
    widget.addWidget(input);
    if (cell.cell_type === 'code' && cell.outputs?.length) {
      const model = new OutputAreaModel({
        values: cell.outputs as unknown as nbformat.IOutput[],
        trusted: false
      });
      widget.addWidget(new OutputArea({ model, rendermime }));
    }
    return widget;
  }
}
