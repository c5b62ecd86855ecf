/** Pure operations on lists of runs: durations, columns, sorting, merging polled pages. */

import { IColumn, IRun, ISort, SortKey } from './types';

export function runDuration(run: IRun, now: number): number | null {
  if (run.start_time === null) {
    return null;
  }
  const end = run.end_time ?? (run.status === 'RUNNING' ? now : null);
  return end === null ? null : Math.max(0, end - run.start_time);
}

export function columnValue(run: IRun, column: IColumn): string | number | null | undefined {
  return column.kind === 'param' ? run.params[column.key] : run.metrics[column.key];
}

export function columnId(column: SortKey): string {
  return `${column.kind}:${column.key}`;
}

export function sameColumn(a: SortKey, b: SortKey): boolean {
  return a.kind === b.kind && a.key === b.key;
}

export interface IKeys {
  params: string[];
  metrics: string[];
}

/** Param and metric keys over `runs`, most common first (ties alphabetical). */
export function collectKeys(runs: IRun[]): IKeys {
  const counts = new KeyCounts();
  counts.add(runs);
  return counts.keys;
}

/** Columns shown before the user picks any: a couple of the most common metrics and params. */
export function defaultColumns(keys: IKeys, perKind = 2): IColumn[] {
  return [
    ...keys.metrics.slice(0, perKind).map(key => ({ kind: 'metric' as const, key })),
    ...keys.params.slice(0, perKind).map(key => ({ kind: 'param' as const, key }))
  ];
}

/** A decimal number, as the server tells one (sql_numeric.py): not hex, Infinity or "". */
const DECIMAL = /^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$/;

function sortValue(run: IRun, by: SortKey, now: number): string | number | null {
  if (by.kind === 'attr') {
    switch (by.key) {
      case 'status':
        return run.status;
      case 'run_name':
        // By code point, as the server orders names (text_order in sql_dialect.py): a list
        // sorted here and the same list re-sorted by the server when it is cut agree.
        return run.run_name;
      case 'start_time':
        return run.start_time;
      case 'duration':
        return runDuration(run, now);
    }
  }
  const v = columnValue(run, by);
  if (v === undefined || v === null || (typeof v === 'number' && Number.isNaN(v))) {
    return null;
  }
  if (by.kind === 'param') {
    // Params are strings; decimal ones sort as numbers so "10" comes after "9", the others
    // by code point: the server's order when asked for it (sql_numeric.py, param_order).
    const text = String(v);
    return DECIMAL.test(text) ? Number(text) : text;
  }
  return v;
}

/** Values in `dir`'s order; numbers come before text in either direction. */
function compareValues(a: string | number, b: string | number, dir: number): number {
  if (typeof a !== typeof b) {
    return typeof a === 'number' ? -1 : 1;
  }
  return a < b ? -dir : a > b ? dir : 0;
}

/** Whether `runs` already are in `sort`'s order (the server's pages usually are). */
function inOrder(runs: IRun[], sort: ISort, now: number): boolean {
  const dir = sort.descending ? -1 : 1;
  let prev = runs.length ? sortValue(runs[0], sort.by, now) : null;
  for (let i = 1; i < runs.length; i++) {
    const v = sortValue(runs[i], sort.by, now);
    if (v !== null && (prev === null || compareValues(prev, v, dir) > 0)) {
      return false;
    }
    prev = v;
  }
  return true;
}

/** A sorted copy; runs without a value go last whatever the direction; ties keep input order. */
export function sortRuns(runs: IRun[], sort: ISort, now: number): IRun[] {
  // 100,000 runs listed newest first need no sort by start time: checking is a tenth of it.
  if (inOrder(runs, sort, now)) {
    return runs.slice();
  }
  const keyed = runs.map((run, i) => ({ run, i, v: sortValue(run, sort.by, now) }));
  const dir = sort.descending ? -1 : 1;
  keyed.sort((x, y) => compareKeyed(x.v, y.v, dir) || x.i - y.i);
  return keyed.map(k => k.run);
}

/** Runs without a value last whatever the direction. */
function compareKeyed(a: string | number | null, b: string | number | null, dir: number): number {
  if (a === null || b === null) {
    return a === b ? 0 : a === null ? 1 : -1;
  }
  return compareValues(a, b, dir);
}

/**
 * `sorted` with `page` folded in, as `sortRuns(sorted.concat(page))` would order them, without
 * sorting the whole list again: the page is sorted alone and merged. Pages asked in the sort's
 * own order come after every run loaded so far, so they are appended.
 */
export function mergeSorted(sorted: IRun[], page: IRun[], sort: ISort, now: number): IRun[] {
  const incoming = sortRuns(page, sort, now);
  if (sorted.length === 0 || incoming.length === 0) {
    return sorted.concat(incoming);
  }
  const dir = sort.descending ? -1 : 1;
  const value = (run: IRun): string | number | null => sortValue(run, sort.by, now);
  // Ties keep the loaded runs first, as the stable sort of the concatenation would.
  if (compareKeyed(value(sorted[sorted.length - 1]), value(incoming[0]), dir) <= 0) {
    return sorted.concat(incoming);
  }
  const out: IRun[] = [];
  let i = 0;
  let j = 0;
  let vi = value(sorted[0]);
  let vj = value(incoming[0]);
  while (i < sorted.length && j < incoming.length) {
    if (compareKeyed(vi, vj, dir) <= 0) {
      out.push(sorted[i++]);
      vi = i < sorted.length ? value(sorted[i]) : null;
    } else {
      out.push(incoming[j++]);
      vj = j < incoming.length ? value(incoming[j]) : null;
    }
  }
  for (; i < sorted.length; i++) {
    out.push(sorted[i]);
  }
  for (; j < incoming.length; j++) {
    out.push(incoming[j]);
  }
  return out;
}

/**
 * `sorted` with the `changed` runs (by id) swapped in for their earlier versions: each stays
 * where it was while it still sorts between its neighbours, and only those that no longer do
 * are moved (merged back in). A poll that finds a few changed runs among 100,000 costs a pass
 * over the list, not a sort of it. Null when more than `maxMoves` runs would move: then
 * sorting again is as cheap.
 */
export function replaceSorted(
  sorted: IRun[],
  changed: ReadonlyMap<string, IRun>,
  sort: ISort,
  now: number,
  maxMoves = 200
): { runs: IRun[]; moved: boolean } | null {
  const out = sorted.slice();
  const at: number[] = [];
  for (let i = 0; i < out.length; i++) {
    const update = changed.get(out[i].run_id);
    if (update !== undefined) {
      out[i] = update;
      at.push(i);
    }
  }
  const dir = sort.descending ? -1 : 1;
  const value = (run: IRun): string | number | null => sortValue(run, sort.by, now);
  const fits = (i: number): boolean =>
    (i === 0 || compareKeyed(value(out[i - 1]), value(out[i]), dir) <= 0) &&
    (i === out.length - 1 || compareKeyed(value(out[i]), value(out[i + 1]), dir) <= 0);
  const misplaced = at.filter(i => !fits(i));
  if (misplaced.length === 0) {
    return { runs: out, moved: false };
  }
  if (misplaced.length > maxMoves) {
    return null;
  }
  const movers = new Set(misplaced.map(i => out[i].run_id));
  const rest = out.filter(run => !movers.has(run.run_id));
  return { runs: mergeSorted(rest, misplaced.map(i => out[i]), sort, now), moved: true };
}

/** Param and metric key counts kept up to date as pages arrive (`collectKeys` of them all). */
export class KeyCounts {
  add(runs: IRun[]): void {
    for (const run of runs) {
      for (const k in run.params) {
        this._params.set(k, (this._params.get(k) ?? 0) + 1);
      }
      for (const k in run.metrics) {
        this._metrics.set(k, (this._metrics.get(k) ?? 0) + 1);
      }
    }
  }

  /** Forget `runs` (earlier versions of runs being replaced). */
  remove(runs: IRun[]): void {
    const drop = (m: Map<string, number>, k: string): void => {
      const n = (m.get(k) ?? 0) - 1;
      if (n > 0) {
        m.set(k, n);
      } else {
        m.delete(k);
      }
    };
    for (const run of runs) {
      for (const k in run.params) {
        drop(this._params, k);
      }
      for (const k in run.metrics) {
        drop(this._metrics, k);
      }
    }
  }

  get keys(): IKeys {
    return { params: byCount(this._params), metrics: byCount(this._metrics) };
  }

  private _params = new Map<string, number>();
  private _metrics = new Map<string, number>();
}

function byCount(m: Map<string, number>): string[] {
  return [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(e => e[0]);
}

export interface IMerge {
  runs: IRun[];
  added: number;
  changed: number;
}

/**
 * Fold a freshly polled page into the runs already shown: runs seen before are replaced by
 * their new version in place, unseen ones are put first. Unchanged runs keep their object,
 * so a view can tell nothing moved.
 */
export function mergeRuns(existing: IRun[], incoming: IRun[]): IMerge {
  const fresh = new Map(incoming.map(r => [r.run_id, r]));
  let changed = 0;
  const kept = existing.map(run => {
    const update = fresh.get(run.run_id);
    if (update === undefined) {
      return run;
    }
    fresh.delete(run.run_id);
    if (runsEqual(run, update)) {
      return run;
    }
    changed++;
    return update;
  });
  const added = incoming.filter(r => fresh.has(r.run_id));
  return { runs: added.length ? [...added, ...kept] : kept, added: added.length, changed };
}

function recordsEqual(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) {
    return false;
  }
  return ka.every(k => Object.is(a[k], b[k]));
}

export function runsEqual(a: IRun, b: IRun): boolean {
  return (
    a.status === b.status &&
    a.end_time === b.end_time &&
    a.run_name === b.run_name &&
    a.lifecycle_stage === b.lifecycle_stage &&
    recordsEqual(a.metrics, b.metrics) &&
    recordsEqual(a.params, b.params) &&
    recordsEqual(a.tags, b.tags)
  );
}

/** Toggle `id` in a selection; shift-click style range selection over `ordered` ids. */
export function toggleSelection(
  selected: ReadonlySet<string>,
  id: string,
  options: { range?: { ordered: string[]; anchor: string | null } } = {}
): Set<string> {
  const next = new Set(selected);
  const range = options.range;
  if (range && range.anchor !== null) {
    const a = range.ordered.indexOf(range.anchor);
    const b = range.ordered.indexOf(id);
    if (a >= 0 && b >= 0) {
      const [lo, hi] = a < b ? [a, b] : [b, a];
      for (let i = lo; i <= hi; i++) {
        next.add(range.ordered[i]);
      }
      return next;
    }
  }
  if (next.has(id)) {
    next.delete(id);
  } else {
    next.add(id);
  }
  return next;
}
