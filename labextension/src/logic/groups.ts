/**
 * Child runs grouped under their parent: the sorted list becomes tree rows, children right
 * after their parent when it is expanded. A child whose parent is not listed (filtered out,
 * another experiment) stays a top-level row.
 */

import { IRun } from './types';

export interface ITreeRow {
  run: IRun;
  depth: number;
  /** Children of this run among the listed runs. */
  children: number;
  expanded: boolean;
}

export interface ITree {
  rows: ITreeRow[];
  /** Parent id → its listed children in list order. */
  childrenOf: Map<string, IRun[]>;
  /**
   * Run id → its row's index, for the runs that have a row: built by the first page folded in
   * (`extendTree`), not by every flattening (expanding a parent does not need it).
   */
  rowOf?: Map<string, number>;
}

/** Which listed runs are top-level and which sit under a parent; independent of expansion. */
export interface IGrouping {
  top: IRun[];
  childrenOf: Map<string, IRun[]>;
  /** Every listed run by id. */
  byId: Map<string, IRun>;
  /** Parents not listed of top-level runs: one arriving later would adopt them. */
  waiting: Set<string>;
}

export function groupRuns(sorted: IRun[], expanded: ReadonlySet<string>): ITree {
  return flattenGrouping(groupStructure(sorted), expanded);
}

/**
 * The parent/child structure of a sorted list. Computed once per list: expanding or
 * collapsing a parent only flattens it again (`flattenGrouping`), which is what keeps
 * expanding a parent of 1,000 children among 100,000 runs fast.
 */
export function groupStructure(sorted: IRun[]): IGrouping {
  const byId = new Map<string, IRun>();
  for (const r of sorted) {
    byId.set(r.run_id, r);
  }
  const rooted = new Map<string, boolean>();
  // Whether following parents from `run` ends at a top-level run (false inside a cycle).
  const hasRoot = (run: IRun): boolean => {
    const path: string[] = [];
    const onPath = new Set<string>();
    let current: IRun | undefined = run;
    let result = false;
    while (current) {
      const known = rooted.get(current.run_id);
      if (known !== undefined) {
        result = known;
        break;
      }
      if (onPath.has(current.run_id)) {
        result = false;
        break;
      }
      path.push(current.run_id);
      onPath.add(current.run_id);
      const parent: string | null = current.parent_run_id;
      current = parent && parent !== current.run_id ? byId.get(parent) : undefined;
      if (!current) {
        result = true;
      }
    }
    for (const id of path) {
      rooted.set(id, result);
    }
    return result;
  };
  const childrenOf = new Map<string, IRun[]>();
  const top: IRun[] = [];
  const waiting = new Set<string>();
  for (const r of sorted) {
    const parent = r.parent_run_id;
    if (parent && parent !== r.run_id && byId.has(parent) && hasRoot(r)) {
      const list = childrenOf.get(parent);
      if (list) {
        list.push(r);
      } else {
        childrenOf.set(parent, [r]);
      }
    } else {
      top.push(r);
      if (parent && parent !== r.run_id && !byId.has(parent)) {
        waiting.add(parent);
      }
    }
  }
  return { top, childrenOf, byId, waiting };
}

/** Whether following parents from the listed run `id` ends at a top-level run (not a cycle). */
function rooted(id: string, byId: Map<string, IRun>): boolean {
  const seen = new Set<string>();
  let current = byId.get(id);
  while (current) {
    if (seen.has(current.run_id)) {
      return false;
    }
    seen.add(current.run_id);
    const parent = current.parent_run_id;
    current = parent && parent !== current.run_id ? byId.get(parent) : undefined;
  }
  return true;
}

/** What a page added to a grouping: the new top-level runs and the parents that gained children. */
export interface IGroupingGrowth {
  grouping: IGrouping;
  addedTop: IRun[];
  grown: Set<string>;
  /** Whether runs listed before moved under a parent of the page (their rows go). */
  adopted: boolean;
}

/**
 * The grouping of the list with `added` after every run of `grouping` (a page in the list's
 * order), as `groupStructure` of the whole list would be, without grouping it all again. A run
 * of the page may be the parent of runs listed before it (children sorted above their parent):
 * they move under it. Null in the one case left to `groupStructure`: such a move closing a
 * cycle of parents.
 */
export function extendGrouping(grouping: IGrouping, added: IRun[]): IGroupingGrowth | null {
  // The maps grow in place (copying 100,000 entries per page is what this avoids); the lists
  // of children that change are copied, so a tree built before keeps its own.
  const { byId, childrenOf, waiting } = grouping;
  for (const r of added) {
    byId.set(r.run_id, r);
  }
  const copied = new Set<string>();
  let top = grouping.top.slice();
  const adopters = new Set(added.filter(r => waiting.has(r.run_id)).map(r => r.run_id));
  if (adopters.size) {
    const moved = top.filter(r => r.parent_run_id !== null && adopters.has(r.parent_run_id));
    if (moved.some(r => !rooted(r.run_id, byId))) {
      return null;
    }
    for (const r of moved) {
      const parent = r.parent_run_id!;
      if (!copied.has(parent)) {
        childrenOf.set(parent, []);
        copied.add(parent);
      }
      childrenOf.get(parent)!.push(r); // listed before the page: before its runs
    }
    const gone = new Set(moved);
    top = top.filter(r => !gone.has(r));
    for (const id of adopters) {
      waiting.delete(id);
    }
  }
  const addedTop: IRun[] = [];
  for (const r of added) {
    const parent = r.parent_run_id;
    if (parent && parent !== r.run_id && byId.has(parent) && rooted(parent, byId)) {
      if (!copied.has(parent)) {
        childrenOf.set(parent, [...(childrenOf.get(parent) ?? [])]);
        copied.add(parent);
      }
      childrenOf.get(parent)!.push(r);
    } else {
      top.push(r);
      addedTop.push(r);
      if (parent && parent !== r.run_id && !byId.has(parent)) {
        waiting.add(parent);
      }
    }
  }
  const adopted = adopters.size > 0;
  return { grouping: { top, childrenOf, byId, waiting }, addedTop, grown: copied, adopted };
}

/**
 * The tree rows after `extendGrouping`, from the rows before it: the new top-level runs
 * appended and the parents that gained children recounted (a parent hidden under a collapsed
 * one has no row: its count is read when that one opens). Null when a parent that gained
 * children is open (its new rows go in the middle) or runs moved under a new parent: then
 * flatten everything again.
 */
export function extendTree(
  tree: ITree,
  growth: IGroupingGrowth,
  expanded: ReadonlySet<string>
): ITree | null {
  const { grouping, addedTop, grown } = growth;
  if (growth.adopted) {
    return null;
  }
  for (const id of grown) {
    if (expanded.has(id)) {
      return null;
    }
  }
  const rows = tree.rows.slice();
  // Grows in place, as the grouping's maps do.
  const rowOf = tree.rowOf ?? new Map(tree.rows.map((row, i) => [row.run.run_id, i]));
  for (const id of grown) {
    const at = rowOf.get(id);
    if (at !== undefined) {
      rows[at] = { ...rows[at], children: grouping.childrenOf.get(id)!.length };
    }
  }
  appendRows(rows, rowOf, addedTop, grouping.childrenOf, expanded);
  return { rows, childrenOf: grouping.childrenOf, rowOf };
}

function appendRows(
  rows: ITreeRow[],
  rowOf: Map<string, number> | null,
  top: IRun[],
  childrenOf: Map<string, IRun[]>,
  expanded: ReadonlySet<string>
): void {
  const add = (run: IRun, depth: number): void => {
    const kids = childrenOf.get(run.run_id);
    const open = !!kids && expanded.has(run.run_id);
    rowOf?.set(run.run_id, rows.length);
    rows.push({ run, depth, children: kids ? kids.length : 0, expanded: open });
    if (open) {
      for (const kid of kids) {
        add(kid, depth + 1);
      }
    }
  };
  for (const run of top) {
    add(run, 0);
  }
}

/**
 * The grouping (its maps updated in place) and tree rows with `changed` runs swapped in where
 * their earlier versions were, for runs that kept their place in the sorted list and their
 * parent: a pass over the rows instead of grouping and flattening the whole list again.
 */
export function replaceInGrouping(
  grouping: IGrouping,
  tree: ITree | null,
  changed: ReadonlyMap<string, IRun>
): { grouping: IGrouping; tree: ITree | null } {
  const swap = (run: IRun): IRun => changed.get(run.run_id) ?? run;
  // Updated in place: copying maps of 100,000 runs cost more than sorting them again.
  const { byId, childrenOf } = grouping;
  for (const run of changed.values()) {
    byId.set(run.run_id, run);
    const parent = run.parent_run_id;
    const siblings = parent ? childrenOf.get(parent) : undefined;
    if (parent && siblings) {
      childrenOf.set(parent, siblings.map(swap));
    }
  }
  const next = { ...grouping, top: grouping.top.map(swap), byId, childrenOf };
  if (tree === null) {
    return { grouping: next, tree: null };
  }
  const rows = tree.rows.map(row =>
    changed.has(row.run.run_id) ? { ...row, run: swap(row.run) } : row
  );
  return { grouping: next, tree: { ...tree, rows, childrenOf } };
}

/** Tree rows of a grouping: children right after their parent when it is expanded. */
export function flattenGrouping(grouping: IGrouping, expanded: ReadonlySet<string>): ITree {
  const rows: ITreeRow[] = [];
  appendRows(rows, null, grouping.top, grouping.childrenOf, expanded);
  return { rows, childrenOf: grouping.childrenOf };
}

/** Ids of `id`'s listed descendants (hidden when it collapses). */
export function descendants(id: string, childrenOf: Map<string, IRun[]>): string[] {
  const out: string[] = [];
  const stack = [...(childrenOf.get(id) ?? [])];
  while (stack.length) {
    const r = stack.pop()!;
    out.push(r.run_id);
    stack.push(...(childrenOf.get(r.run_id) ?? []));
  }
  return out;
}
