/** Artifact paths and notebook locations. */

import { IRun } from './types';

const IMAGE = /\.(png|jpe?g|gif|svg|webp|bmp)$/i;
const TEXT = /\.(txt|log|py|json|ya?ml|md|csv|tsv|toml|cfg|ini|html?|xml|sh|r|sql)$/i;

export function isImage(path: string): boolean {
  return IMAGE.test(path);
}

export function isText(path: string): boolean {
  return TEXT.test(path) || /(^|\/)MLmodel$/.test(path);
}

/** Each segment URL-encoded, slashes kept: `figures/a b.png` → `figures/a%20b.png`. */
export function encodePath(path: string): string {
  return path
    .split('/')
    .filter(s => s.length > 0)
    .map(encodeURIComponent)
    .join('/');
}

export function baseName(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return parts.length ? parts[parts.length - 1] : path;
}

export const TAG_NOTEBOOK = 'notebook_tracker.notebook_path';
export const TAG_CELL_ID = 'notebook_tracker.cell_id';
export const TAG_EXECUTION_COUNT = 'notebook_tracker.execution_count';
export const CELL_SOURCE = 'cell/source.py';

export interface INotebookTarget {
  path: string;
  cellId: string | null;
  executionCount: number | null;
}

/** Where the run's cell lives, or null when the run was not made by `%%track_run` in a notebook. */
export function notebookTarget(run: IRun): INotebookTarget | null {
  const path = run.tags[TAG_NOTEBOOK];
  if (!path || path === 'unknown') {
    return null;
  }
  const count = Number(run.tags[TAG_EXECUTION_COUNT]);
  return {
    path,
    cellId: run.tags[TAG_CELL_ID] || null,
    executionCount: run.tags[TAG_EXECUTION_COUNT] && Number.isInteger(count) ? count : null
  };
}

export interface ICellRef {
  id: string;
  executionCount: number | null;
}

/** The cell a run came from: by cell id, else by execution count, else -1. */
export function findCell(cells: ICellRef[], target: INotebookTarget): number {
  if (target.cellId) {
    const i = cells.findIndex(c => c.id === target.cellId);
    if (i >= 0) {
      return i;
    }
  }
  if (target.executionCount !== null) {
    return cells.findIndex(c => c.executionCount === target.executionCount);
  }
  return -1;
}

/**
 * A notebook path as the document manager wants it: relative to the server root. Absolute
 * paths under `serverRoot` are made relative; others are returned unchanged.
 */
export function relativeToRoot(path: string, serverRoot: string): string {
  if (!path.startsWith('/') || !serverRoot) {
    return path;
  }
  const root = serverRoot.replace(/\/+$/, '');
  if (root && (path === root || path.startsWith(root + '/'))) {
    return path.slice(root.length + 1);
  }
  return path;
}
