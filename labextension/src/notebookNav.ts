/** "Open the notebook at this cell": open the run's notebook and activate the cell it ran. */

import { PageConfig } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { NotebookPanel } from '@jupyterlab/notebook';

import { findCell, notebookTarget, relativeToRoot } from './logic/paths';
import { IRun } from './logic/types';

export async function openNotebookAtCell(docManager: IDocumentManager, run: IRun): Promise<void> {
  const target = notebookTarget(run);
  if (!target) {
    throw new Error('This run has no notebook location (it was not logged by %%track_run).');
  }
  const path = relativeToRoot(target.path, PageConfig.getOption('serverRoot'));
  try {
    await docManager.services.contents.get(path, { content: false });
  } catch {
    throw new Error(
      `The notebook ${path} is not under this Jupyter server's root (moved or deleted?).`
    );
  }
  const widget = docManager.openOrReveal(path);
  if (!widget) {
    throw new Error(`JupyterLab could not open ${path}.`);
  }
  await widget.context.ready;
  if (!(widget instanceof NotebookPanel)) {
    return;
  }
  await widget.revealed;
  const notebook = widget.content;
  const cells = notebook.widgets.map(cell => ({
    id: cell.model.id,
    executionCount:
      cell.model.type === 'code'
        ? ((cell.model as unknown as { executionCount: number | null }).executionCount ?? null)
        : null
  }));
  const index = findCell(cells, target);
  if (index < 0) {
    throw new Error(
      `The cell is no longer in ${path}: it was edited away or the notebook was re-run.`
    );
  }
  notebook.activeCellIndex = index;
  await notebook.scrollToCell(notebook.widgets[index], 'center');
  notebook.mode = 'command';
  notebook.widgets[index].node.classList.add('nt-mod-flash');
  window.setTimeout(() => notebook.widgets[index]?.node.classList.remove('nt-mod-flash'), 1600);
}
