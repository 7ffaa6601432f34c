/**
 * jupyterlab-nbtrack: the runs sidebar, run view, status-bar item, commands,
 * toolbar button and the live notebook snapshot channel.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  showErrorMessage,
  ToolbarButton
} from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ServerConnection } from '@jupyterlab/services';
import { IStatusBar } from '@jupyterlab/statusbar';
import { refreshIcon } from '@jupyterlab/ui-components';
import type { JSONObject } from '@lumino/coreutils';
import { DisposableDelegate } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';
import { ApiError, NbtrackApi } from './api';
import { goToCell } from './cells';
import { VEGALITE_MIME } from './charts';
import { registerCommands, trackInPanel } from './commands';
import { errorMessage } from './dom';
import { ExperimentNames } from './experiments';
import { nbtrackIcon } from './icons';
import { CellLinks } from './linkhandler';
import { SnapshotView } from './notebookview';
import { ExperimentsView } from './experimentsview';
import { RunView } from './runview';
import { RunsSidebar } from './sidebar';
import { SnapshotProvider } from './snapshot';
import { RunStatusItem } from './statusbar';
import { CommandIDs, KernelCode } from './tokens';
import { FRONTEND } from './version';

const PLUGIN_ID = 'jupyterlab-nbtrack:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'nbtrack runs sidebar, run view, status bar and live notebook snapshots.',
  autoStart: true,
  requires: [INotebookTracker, IRenderMimeRegistry],
  optional: [ICommandPalette, ILayoutRestorer, IStatusBar, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    statusBar: IStatusBar | null,
    settingRegistry: ISettingRegistry | null
  ): void => {
    const settings = ServerConnection.makeSettings();
    const api = new NbtrackApi(settings.baseUrl, (url, init) =>
      ServerConnection.makeRequest(url, init, settings)
    );
    const experiments = new ExperimentNames(api);
    const provider = new SnapshotProvider(tracker, FRONTEND);
    const notebookPath = (): string | null =>
      tracker.currentWidget?.context.path ?? null;

    const renderChart = async (spec: JSONObject): Promise<Widget> => {
      if (!rendermime.mimeTypes.includes(VEGALITE_MIME)) {
        throw new Error(
          'JupyterLab has no Vega-Lite renderer (@jupyterlab/vega5-extension is disabled).'
        );
      }
      const renderer = rendermime.createRenderer(VEGALITE_MIME);
      await renderer.renderModel(
        rendermime.createModel({ data: { [VEGALITE_MIME]: spec } })
      );
      return renderer;
    };

    const openSnapshot = (
      runId: string,
      runName: string,
      notebook: string | null
    ): void => {
      void api.snapshot(runId, notebook).then(
        nb => {
          const content = new SnapshotView(nb, rendermime);
          const widget = new MainAreaWidget({ content });
          widget.id = `nbtrack-snapshot-${runId}`;
          widget.title.label = `Snapshot: ${runName}`;
          widget.title.icon = nbtrackIcon;
          widget.title.closable = true;
          app.shell.add(widget, 'main');
        },
        (error: unknown) => {
          const message =
            error instanceof ApiError && error.status === 404
              ? 'This run has no notebook snapshot.'
              : errorMessage(error);
          void showErrorMessage('nbtrack snapshot', message);
        }
      );
    };

    const openRun = (runId: string, notebook: string | null): void => {
      const id = `nbtrack-run-${runId}`;
      const existing = Array.from(app.shell.widgets('main')).find(
        w => w.id === id
      );
      if (existing) {
        app.shell.activateById(id);
        return;
      }
      const content = new RunView({
        api,
        runId,
        notebook,
        experiments,
        renderChart,
        goToCell: (run, cell) =>
          goToCell(app, tracker, run.notebook ?? notebook, cell.cell_id ?? ''),
        openSnapshot: run => openSnapshot(run.run_id, run.run_name, notebook)
      });
      const widget = new MainAreaWidget({ content });
      widget.id = id;
      widget.title.label = `Run ${runId.slice(0, 8)}`;
      widget.title.icon = nbtrackIcon;
      widget.title.closable = true;
      content.title.changed.connect(() => {
        widget.title.label = content.title.label;
      });
      app.shell.add(widget, 'main');
      app.shell.activateById(id);
    };

    // The Experiments view: one per store (notebook folder), opened from the
    // sidebar's button or the palette.
    const openExperiments = (experimentId: string | null = null): void => {
      const notebook = notebookPath();
      const id = 'nbtrack-experiments';
      const existing = Array.from(app.shell.widgets('main')).find(
        w => w.id === id
      );
      if (existing) {
        app.shell.activateById(id);
        return;
      }
      const content = new ExperimentsView({
        api,
        notebook,
        experimentId,
        openRun: run => openRun(run.run_id, notebook)
      });
      const widget = new MainAreaWidget({ content });
      widget.id = id;
      widget.title.label = 'Experiments';
      widget.title.icon = nbtrackIcon;
      widget.title.closable = true;
      app.shell.add(widget, 'main');
      app.shell.activateById(id);
    };

    // The runs sidebar follows the notebook in focus.
    const sidebar = new RunsSidebar({
      api,
      experiments,
      refreshIcon: () => refreshIcon.element({ tag: 'span' }),
      openRun: run => openRun(run.run_id, notebookPath()),
      openExperiments: experimentId => openExperiments(experimentId)
    });
    sidebar.title.icon = nbtrackIcon;
    app.shell.add(sidebar, 'left', { rank: 600 });
    restorer?.add(sidebar, 'nbtrack-sidebar');

    // The status-bar item follows the current notebook's kernel.
    const statusItem = new RunStatusItem({
      api,
      onClick: (run, notebook) => openRun(run.run_id, notebook)
    });
    if (settingRegistry) {
      // schema/plugin.json: showSystemUsage (default true).
      settingRegistry
        .load(PLUGIN_ID)
        .then(loaded => {
          const apply = (): void => {
            statusItem.showSystemUsage =
              loaded.composite.showSystemUsage !== false;
          };
          apply();
          loaded.changed.connect(apply);
        })
        .catch(reason => {
          console.warn('nbtrack: settings not loaded:', reason);
        });
    }
    const followCurrent = (): void => {
      const panel = tracker.currentWidget;
      const path = panel?.context.path ?? null;
      sidebar.setNotebook(path);
      statusItem.setConnection(provider.get(panel), path);
      sidebar.setActiveExperiment(
        provider.get(panel)?.activeRun?.experiment_id ?? null
      );
    };
    tracker.currentChanged.connect(followCurrent);
    tracker.widgetAdded.connect((_, panel) =>
      panel.context.pathChanged.connect(followCurrent)
    );
    provider.runChanged.connect((_, { panel }) => {
      if (panel === tracker.currentWidget) {
        followCurrent();
      }
      if (sidebar.isVisible) {
        void sidebar.refresh();
      }
    });
    followCurrent();
    if (statusBar) {
      statusBar.registerStatusItem('nbtrack:status', {
        item: statusItem,
        align: 'left',
        rank: 10,
        isActive: () => statusItem.run !== null,
        activeStateChanged: statusItem.activeChanged
      });
    }

    registerCommands({
      app,
      tracker,
      provider,
      openRuns: () => app.shell.activateById(sidebar.id)
    });
    app.commands.addCommand(CommandIDs.openRun, {
      label: 'Open nbtrack Run',
      caption: 'Open a run by id (args: runId, notebook)',
      execute: args => {
        if (typeof args.runId !== 'string') {
          throw new Error('nbtrack:open-run needs a runId argument');
        }
        const notebook =
          typeof args.notebook === 'string' ? args.notebook : notebookPath();
        openRun(args.runId, notebook);
      }
    });
    app.commands.addCommand(CommandIDs.openExperiments, {
      label: 'Open nbtrack Experiments',
      caption:
        'Runs table, chart grid and compare view of the store of the notebook in focus',
      execute: args =>
        openExperiments(
          typeof args.experimentId === 'string' ? args.experimentId : null
        )
    });
    for (const command of [
      CommandIDs.openExperiments,
      CommandIDs.startRun,
      CommandIDs.endRun,
      CommandIDs.snapshot,
      CommandIDs.openRuns
    ]) {
      palette?.addItem({ command, category: 'nbtrack' });
    }

    // Provenance links of compare panels go to the cell that logged a metric.
    const cellLinks = new CellLinks({ app, tracker, api });
    tracker.widgetAdded.connect((_, panel) => {
      const watching = cellLinks.watch(panel);
      panel.disposed.connect(() => watching.dispose());
    });

    // A "Track" button in every notebook toolbar.
    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (panel: NotebookPanel) => {
        const start = new ToolbarButton({
          className: 'nbtrack-toolbar-start',
          icon: nbtrackIcon,
          label: 'Track',
          tooltip: 'Start an nbtrack run in this notebook (%track start)',
          onClick: () => {
            void trackInPanel(panel, provider, 'Start run', KernelCode.start);
          }
        });
        panel.toolbar.insertAfter('cellType', 'nbtrackStart', start);
        return new DisposableDelegate(() => start.dispose());
      }
    });
  }
};

export default plugin;
