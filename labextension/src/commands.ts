/**
 * Commands (palette, toolbar): start run, end run, snapshot, open runs.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { showErrorMessage } from '@jupyterlab/apputils';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { errorMessage } from './dom';
import { runTrackMagic } from './kernel';
import { SnapshotProvider } from './snapshot';
import { CommandIDs, KernelCode } from './tokens';

/** What the commands act on. */
export interface ICommandContext {
  app: JupyterFrontEnd;
  tracker: INotebookTracker;
  provider: SnapshotProvider;
  /** Show the runs sidebar. */
  openRuns: () => void;
}

/** Register the commands; the notebook ones act on the current notebook. */
export function registerCommands(context: ICommandContext): void {
  const { app, tracker, provider } = context;
  const hasKernel = (): boolean =>
    !!tracker.currentWidget?.sessionContext.session?.kernel;

  const magicCommand = (
    id: string,
    label: string,
    caption: string,
    magic: string
  ): void => {
    app.commands.addCommand(id, {
      label,
      caption,
      isEnabled: hasKernel,
      execute: () => trackInPanel(tracker.currentWidget, provider, label, magic)
    });
  };
  magicCommand(
    CommandIDs.startRun,
    'Start nbtrack Run',
    'Start a run in this notebook (%track start; ends the active one)',
    KernelCode.start
  );
  magicCommand(
    CommandIDs.endRun,
    'End nbtrack Run',
    'End the active run of this notebook (%track end)',
    KernelCode.end
  );
  magicCommand(
    CommandIDs.snapshot,
    'Snapshot Notebook to nbtrack Run',
    'Save this notebook, as shown, to the active run (%track snapshot)',
    KernelCode.snapshot
  );
  app.commands.addCommand(CommandIDs.openRuns, {
    label: 'Open nbtrack Runs',
    caption: 'Show the runs sidebar',
    execute: () => context.openRuns()
  });
}

/** Run a `%track` magic in `panel`'s kernel; failures are shown in a dialog. */
export async function trackInPanel(
  panel: NotebookPanel | null,
  provider: SnapshotProvider,
  label: string,
  magic: string
): Promise<void> {
  const kernel = panel?.sessionContext.session?.kernel;
  if (!panel || !kernel) {
    await showErrorMessage(
      `nbtrack: ${label}`,
      'Open a notebook with a running kernel first.'
    );
    return;
  }
  try {
    await runTrackMagic(kernel, provider.get(panel), magic);
  } catch (error) {
    await showErrorMessage(`nbtrack: ${label}`, errorMessage(error));
  }
}
