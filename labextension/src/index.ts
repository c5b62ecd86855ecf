/**
 * notebook-tracker's JupyterLab extension: a left-sidebar panel of runs and models, a compare
 * tab, run details, and commands in the palette.
 */

import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  IThemeManager,
  MainAreaWidget,
  showErrorMessage,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';

import { URLExt } from '@jupyterlab/coreutils';

import { TrackerAPI } from './api';
import { trackerIcon } from './icon';
import { RUN_QUERY, runIdFromHref, runIdFromSearch, withoutRunQuery } from './logic/links';
import { baseName } from './logic/paths';
import { IRun } from './logic/types';
import { PAGES_KEY, pageSizes } from './logic/pages';
import { RunsModel } from './model';
import { openNotebookAtCell } from './notebookNav';
import { CompareView } from './widgets/compareView';
import { RunDetails } from './widgets/detailsView';
import { RunsTablePanel } from './widgets/runsTablePanel';
import { TrackerSidebar } from './widgets/sidebar';
import { ArtifactText } from './widgets/textView';

export const PANEL_ID = 'notebook-tracker-runs';

const CommandIDs = {
  open: 'notebook-tracker:open',
  refresh: 'notebook-tracker:refresh',
  compare: 'notebook-tracker:compare-selected',
  openRun: 'notebook-tracker:open-run',
  revealRun: 'notebook-tracker:reveal-run',
  compareRuns: 'notebook-tracker:compare-runs',
  openTable: 'notebook-tracker:open-table'
} as const;

const TABLE_ID = 'notebook-tracker-table';

/** A command's string argument ('' when absent or not a string). */
function stringArg(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

const CATEGORY = 'Notebook Tracker';

type Themed = MainAreaWidget<CompareView | RunDetails>;

function activate(
  app: JupyterFrontEnd,
  docManager: IDocumentManager,
  restorer: ILayoutRestorer | null,
  palette: ICommandPalette | null,
  themes: IThemeManager | null
): void {
  const api = new TrackerAPI(app.serviceManager.serverSettings);
  const model = new RunsModel(api, undefined, pageSizes(window.localStorage.getItem(PAGES_KEY)));
  const themed = new Set<Themed>();
  const details = new Map<string, MainAreaWidget<RunDetails>>();
  let compareCount = 0;
  // Open details and compare tabs come back after a reload (the layout restorer replays them).
  const detailsTracker = new WidgetTracker<MainAreaWidget<RunDetails>>({
    namespace: 'notebook-tracker-run'
  });
  const compareTracker = new WidgetTracker<MainAreaWidget<CompareView>>({
    namespace: 'notebook-tracker-compare'
  });

  const track = <T extends CompareView | RunDetails>(w: MainAreaWidget<T>): void => {
    themed.add(w);
    w.disposed.connect(() => themed.delete(w));
  };

  const openText = (runId: string, path: string): void => {
    const content = new ArtifactText(api, runId, path);
    const w = new MainAreaWidget({ content });
    w.id = `notebook-tracker-artifact-${runId}-${path}`.replace(/[^\w-]/g, '_');
    w.title.label = baseName(path);
    w.title.caption = `${path} (run ${runId})`;
    w.title.closable = true;
    app.shell.add(w, 'main');
    app.shell.activateById(w.id);
  };

  const openRun = (run: IRun): void => {
    const existing = details.get(run.run_id);
    if (existing && !existing.isDisposed) {
      app.shell.activateById(existing.id);
      void existing.content.refresh();
      return;
    }
    const content = new RunDetails({
      api,
      run,
      onOpenNotebook: r => openNotebookAtCell(docManager, r),
      onOpenText: openText
    });
    const w = new MainAreaWidget({ content });
    w.id = `notebook-tracker-run-${run.run_id}`;
    w.title.label = `Run ${run.run_name || run.run_id.slice(0, 8)}`;
    w.title.caption = run.run_id;
    w.title.icon = trackerIcon;
    w.title.closable = true;
    details.set(run.run_id, w);
    w.disposed.connect(() => details.delete(run.run_id));
    track(w);
    void detailsTracker.add(w);
    app.shell.add(w, 'main');
    app.shell.activateById(w.id);
  };

  const compare = (): void => compareOf(model.selectedRuns);
  const compareOf = (runs: IRun[]): void => {
    if (runs.length === 0) {
      return;
    }
    const content = new CompareView({ api, runs, onOpenRun: openRun, onOpenText: openText });
    const w = new MainAreaWidget({ content });
    w.id = `notebook-tracker-compare-${++compareCount}`;
    w.title.label = `Compare ${runs.length} run${runs.length === 1 ? '' : 's'}`;
    w.title.caption = runs.map(r => r.run_name || r.run_id).join(', ');
    w.title.icon = trackerIcon;
    w.title.closable = true;
    track(w);
    void compareTracker.add(w);
    app.shell.add(w, 'main');
    app.shell.activateById(w.id);
  };

  // One main-area runs table; it comes back after a reload like the details tabs.
  const tableTracker = new WidgetTracker<MainAreaWidget<RunsTablePanel>>({
    namespace: 'notebook-tracker-table'
  });
  let table: MainAreaWidget<RunsTablePanel> | null = null;
  const openTable = (): void => {
    if (table === null || table.isDisposed) {
      const content = new RunsTablePanel({ model, onCompare: compare, onOpenRun: openRun });
      const w = new MainAreaWidget({ content });
      w.id = TABLE_ID;
      w.title.label = 'Runs';
      w.title.caption = 'notebook-tracker runs table';
      w.title.icon = trackerIcon;
      w.title.closable = true;
      w.disposed.connect(() => {
        table = null;
      });
      table = w;
      void tableTracker.add(w);
      app.shell.add(w, 'main');
    }
    app.shell.activateById(table.id);
  };

  const sidebar = new TrackerSidebar({
    model,
    api,
    onCompare: compare,
    onOpenRun: openRun,
    onOpenRunId: runId => void app.commands.execute(CommandIDs.openRun, { runId }),
    onOpenTable: () => void app.commands.execute(CommandIDs.openTable)
  });
  sidebar.id = PANEL_ID;
  sidebar.title.icon = trackerIcon;
  sidebar.title.caption = 'Notebook Tracker: runs and models';
  app.shell.add(sidebar, 'left', { rank: 600 });
  restorer?.add(sidebar, PANEL_ID);

  themes?.themeChanged.connect(() => {
    for (const w of themed) {
      w.content.themeChanged();
    }
  });

  app.commands.addCommand(CommandIDs.open, {
    label: 'Open the Runs Panel',
    caption: 'Show the notebook-tracker sidebar',
    execute: () => app.shell.activateById(PANEL_ID)
  });
  app.commands.addCommand(CommandIDs.openTable, {
    label: 'Open the Runs Table in the Main Area',
    caption: 'The runs as a wide tab: every metric and param a column',
    icon: trackerIcon,
    execute: openTable
  });
  app.commands.addCommand(CommandIDs.refresh, {
    label: 'Refresh Runs',
    execute: () => model.reload()
  });
  app.commands.addCommand(CommandIDs.compare, {
    label: () => `Compare Selected Runs (${model.selectedIds.size})`,
    isEnabled: () => model.selectedIds.size > 0,
    execute: compare
  });
  app.commands.addCommand(CommandIDs.openRun, {
    label: 'Open Run Details',
    execute: async args => {
      const runId = stringArg(args.runId);
      if (runId) {
        try {
          openRun(await api.run(runId));
        } catch {
          // A restored tab of a run deleted since: nothing to show.
        }
      }
    }
  });
  app.commands.addCommand(CommandIDs.compareRuns, {
    label: 'Compare Runs',
    execute: async args => {
      const ids = Array.isArray(args.runIds) ? (args.runIds as string[]) : [];
      const runs = await Promise.all(ids.map(id => api.run(String(id)).catch(() => null)));
      compareOf(runs.filter((r): r is IRun => r !== null));
    }
  });
  if (restorer) {
    void restorer.restore(detailsTracker, {
      command: CommandIDs.openRun,
      args: w => ({ runId: w.content.run.run_id }),
      name: w => w.content.run.run_id
    });
    void restorer.restore(compareTracker, {
      command: CommandIDs.compareRuns,
      args: w => ({ runIds: w.content.runs.map(r => r.run_id) }),
      name: w => w.content.runs.map(r => r.run_id).join(',')
    });
    void restorer.restore(tableTracker, {
      command: CommandIDs.openTable,
      name: () => 'table'
    });
  }
  app.commands.addCommand(CommandIDs.revealRun, {
    label: 'Show Run in the Sidebar',
    execute: args => revealRun(stringArg(args.runId))
  });
  model.changed.connect(() => app.commands.notifyCommandChanged(CommandIDs.compare));

  // A run link (the run card's "open in sidebar", "child of …") shows the run in the sidebar
  // and opens its details. JupyterLab would otherwise treat the fragment as an in-page anchor.
  const isLab = app.name === 'JupyterLab';
  const revealRun = async (runId: string): Promise<void> => {
    if (!runId) {
      return;
    }
    if (!isLab) {
      // Notebook 7 has no room for the run's tabs beside the notebook: open it in Lab.
      const lab = URLExt.join(app.serviceManager.serverSettings.baseUrl, 'lab');
      window.open(`${lab}?${RUN_QUERY}=${encodeURIComponent(runId)}`, '_blank', 'noopener');
      return;
    }
    let run: IRun;
    try {
      run = await api.run(runId);
    } catch (err) {
      void showErrorMessage('Cannot open the run', `Run ${runId}: ${(err as Error).message}`);
      return;
    }
    sidebar.showRuns();
    app.shell.activateById(PANEL_ID);
    openRun(run);
    await model.reveal(run);
  };
  const onLinkClick = (event: MouseEvent): void => {
    const target = event.target as Element | null;
    const anchor = target?.closest?.('a[href]') as HTMLAnchorElement | null;
    const runId = anchor ? runIdFromHref(anchor.getAttribute('href')) : null;
    if (runId === null || event.button !== 0 || event.metaKey || event.ctrlKey) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    void revealRun(runId);
  };
  document.addEventListener('click', onLinkClick, true);
  window.addEventListener('hashchange', () => {
    const runId = runIdFromHref(window.location.hash);
    if (runId !== null) {
      history.replaceState(null, '', window.location.pathname + window.location.search);
      void revealRun(runId);
    }
  });
  const startRun = runIdFromSearch(window.location.search) ?? runIdFromHref(window.location.hash);
  if (startRun !== null) {
    history.replaceState(
      history.state,
      '',
      window.location.pathname + withoutRunQuery(window.location.search)
    );
    void app.restored.then(() => revealRun(startRun));
  }

  if (palette) {
    for (const command of [
      CommandIDs.open,
      CommandIDs.openTable,
      CommandIDs.refresh,
      CommandIDs.compare
    ]) {
      palette.addItem({ command, category: CATEGORY });
    }
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'notebook-tracker:plugin',
  description: 'Browse, filter and compare notebook-tracker runs and models.',
  autoStart: true,
  requires: [IDocumentManager],
  optional: [ILayoutRestorer, ICommandPalette, IThemeManager],
  activate
};

export default plugin;
