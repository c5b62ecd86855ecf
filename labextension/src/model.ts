/**
 * State of the runs sidebar: experiments, the loaded runs, filter, sort, columns, selection,
 * and the polling that folds new runs in. Views listen to `changed` and read the getters.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { ApiError } from './apiError';
import type { TrackerAPI } from './api';
import {
  descendants,
  extendGrouping,
  extendTree,
  flattenGrouping,
  groupStructure,
  IGrouping,
  ITree,
  replaceInGrouping
} from './logic/groups';
import {
  defaultColumns,
  IKeys,
  KeyCounts,
  mergeRuns,
  mergeSorted,
  replaceSorted,
  sortRuns
} from './logic/runs';
import { DEFAULT_ORDER, serverOrder } from './logic/order';
import { DEFAULT_PAGES, IPageSizes } from './logic/pages';
import { IRunsQuery } from './logic/query';
import { pruneSelection } from './logic/selection';
import { IColumn, IExperiment, IRun, ISort } from './logic/types';

const POLL_PAGE = 200;

export type LoadState = 'idle' | 'loading' | 'partial' | 'ready' | 'error';

/** The part of the API the runs model calls (unit tests pass a fake). */
export type IRunsSource = Pick<TrackerAPI, 'experiments' | 'runs'>;

export class RunsModel {
  constructor(
    readonly api: IRunsSource,
    readonly pollMs = 4000,
    readonly pages: IPageSizes = DEFAULT_PAGES
  ) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get experiments(): IExperiment[] {
    return this._experiments;
  }
  /** The experiment shown, '' for all (or for several: see `experimentIds`). */
  get experimentId(): string {
    return this._experimentIds.length === 1 ? this._experimentIds[0] : '';
  }
  /** The experiments shown; empty for all of them. */
  get experimentIds(): string[] {
    return this._experimentIds;
  }
  get filter(): string {
    return this._filter;
  }
  /** The server's message for a filter it refused; shown under the filter box. */
  get filterError(): string | null {
    return this._filterError;
  }
  /** Any other load failure (server unreachable, store error). */
  get error(): string | null {
    return this._error;
  }
  get state(): LoadState {
    return this._state;
  }
  get sort(): ISort {
    return this._sort;
  }
  get runCount(): number {
    return this._runs.length;
  }
  /**
   * How many runs match, counted by the server when the first page showed the list is long
   * (null until then, and for a short list: it is `runCount`).
   */
  get total(): number | null {
    return this._total;
  }
  /** False when the server stopped counting: `total` is a lower bound. */
  get totalExact(): boolean {
    return this._totalExact;
  }
  /** True when more runs matched than the panel keeps (`pages.max`). */
  get truncated(): boolean {
    return this._truncated;
  }
  /** Milliseconds the last reload took until its first page was in. */
  get firstPageMs(): number | null {
    return this._firstPageMs;
  }
  get generation(): number {
    return this._generation;
  }

  /** The loaded runs in the current sort order. */
  get runs(): IRun[] {
    if (this._sorted === null) {
      this._sorted = sortRuns(this._runs, this._sort, Date.now());
    }
    return this._sorted;
  }

  /** The runs as table rows: children under their parent, shown when it is expanded. */
  get tree(): ITree {
    if (this._tree === null) {
      if (this._grouping === null) {
        this._grouping = groupStructure(this.runs);
      }
      this._tree = flattenGrouping(this._grouping, this._expanded);
    }
    return this._tree;
  }

  get expanded(): ReadonlySet<string> {
    return this._expanded;
  }

  /** Expand or collapse a parent; collapsing drops its hidden children from the selection. */
  toggleExpanded(runId: string, open?: boolean): void {
    const isOpen = this._expanded.has(runId);
    const want = open ?? !isOpen;
    if (want === isOpen) {
      return;
    }
    const next = new Set(this._expanded);
    if (want) {
      next.add(runId);
    } else {
      next.delete(runId);
      const hidden = new Set(descendants(runId, this.tree.childrenOf));
      if (this._focused !== null && hidden.has(this._focused)) {
        this._focused = runId;
      }
      const kept = [...this._selected.keys()].filter(id => !hidden.has(id));
      if (kept.length !== this._selected.size) {
        this._applySelection(new Set(kept));
      }
    }
    this._expanded = next;
    this._tree = null;
    this._emit();
  }

  /** The run the keyboard is on (and the one a link revealed). */
  get focused(): string | null {
    return this._focused;
  }

  set focused(runId: string | null) {
    if (runId !== this._focused) {
      this._focused = runId;
      this._emit();
    }
  }

  /**
   * Show `run` in the table: its experiment, no filter hiding it, its ancestors expanded,
   * and the keyboard focus on it.
   */
  async reveal(run: IRun): Promise<void> {
    const listed = this._runs.some(r => r.run_id === run.run_id);
    if (!listed) {
      const inScope =
        this._experimentIds.length === 0 || this._experimentIds.includes(run.experiment_id);
      if (!inScope) {
        this._experimentIds = [run.experiment_id];
      }
      this._filter = '';
      // Not the whole reload: 100,000 runs take a while; the run is usually on the first page.
      await this._untilListed(run.run_id, this.reload());
    }
    const byId = new Map(this._runs.map(r => [r.run_id, r]));
    const next = new Set(this._expanded);
    let parent = byId.get(run.run_id)?.parent_run_id ?? run.parent_run_id;
    const seen = new Set<string>();
    while (parent && byId.has(parent) && !seen.has(parent)) {
      seen.add(parent);
      next.add(parent);
      parent = byId.get(parent)!.parent_run_id;
    }
    this._expanded = next;
    this._tree = null;
    this._focused = run.run_id;
    this._revealCount++;
    this._emit();
  }

  /** Resolves once `runId` is listed or `loading` is over, whichever comes first. */
  private _untilListed(runId: string, loading: Promise<void>): Promise<void> {
    return new Promise(resolve => {
      const check = (): void => {
        if (this._runs.some(r => r.run_id === runId)) {
          done();
        }
      };
      const done = (): void => {
        this._changed.disconnect(check);
        resolve();
      };
      this._changed.connect(check);
      void loading.then(done, done);
    });
  }

  /**
   * Poll while any view showing the runs (`source`: the sidebar, the main-area table) is
   * visible.
   */
  setActive(source: string, visible: boolean): void {
    if (visible) {
      this._activeViews.add(source);
    } else {
      this._activeViews.delete(source);
    }
    this.active = this._activeViews.size > 0;
  }

  /** Bumped by each `reveal`, so the table scrolls to the focused run once. */
  get revealCount(): number {
    return this._revealCount;
  }

  get keys(): IKeys {
    if (this._keys === null) {
      this._keys = this._keyCounts.keys;
    }
    return this._keys;
  }

  get columns(): IColumn[] {
    if (this._columns) {
      return this._columns;
    }
    if (this._defaultColumns === null) {
      this._defaultColumns = defaultColumns(this.keys);
    }
    return this._defaultColumns;
  }

  set columns(columns: IColumn[]) {
    this._columns = columns;
    this._emit();
  }

  get selectedIds(): ReadonlySet<string> {
    return this._selectedIds;
  }

  /** The selected runs (their latest loaded version), in selection order. */
  get selectedRuns(): IRun[] {
    return [...this._selected.values()];
  }

  set selectedIds(ids: ReadonlySet<string>) {
    this._applySelection(ids);
    this._emit();
  }

  /** Keep only ids of listed runs (a selection never holds a run that is not shown). */
  private _applySelection(ids: ReadonlySet<string>): void {
    const byId = new Map(this._runs.map(r => [r.run_id, r]));
    const next = new Map<string, IRun>();
    for (const id of ids) {
      const run = byId.get(id);
      if (run) {
        next.set(id, run);
      }
    }
    this._selected = next;
    this._selectedIds = new Set(next.keys());
  }

  clearSelection(): void {
    this.selectedIds = new Set();
  }

  /**
   * Sort the table. A complete list is sorted in the browser; one still loading or cut at
   * `pages.max` is asked again from the server in that order, from the first page, so the
   * top rows are the top of every matching run, not of those loaded so far.
   */
  setSort(sort: ISort): void {
    this._sort = sort;
    this._sorted = null;
    this._grouping = null;
    this._tree = null;
    const order = serverOrder(sort) ?? this._order;
    const changed = order.join('\u0000') !== this._order.join('\u0000');
    this._order = order;
    const incomplete = this._state === 'partial' || this._state === 'loading' || this._truncated;
    if (changed && incomplete) {
      void this.reload();
    } else {
      this._emit();
    }
  }

  /** The server's order of the pages loaded (the sort's, when the server can sort that way). */
  get order(): string[] {
    return this._order;
  }

  setExperiment(id: string): void {
    this.setExperiments(id ? [id] : []);
  }

  /** Show the runs of these experiments (none: all). Runs of others leave the selection. */
  setExperiments(ids: string[]): void {
    const next = [...new Set(ids)].sort();
    if (next.join('\u0000') === this._experimentIds.join('\u0000')) {
      return;
    }
    this._experimentIds = next;
    if (next.length) {
      const keep = new Set(next);
      const ids = [...this._selected.values()]
        .filter(r => keep.has(r.experiment_id))
        .map(r => r.run_id);
      this._applySelection(new Set(ids));
    }
    void this.reload();
  }

  /** Apply a filter (the `search_runs` grammar, checked by the server). */
  setFilter(filter: string): Promise<void> {
    this._filter = filter;
    return this.reload();
  }

  /** Polling runs while `active` (the panel is visible) and the page is visible. */
  set active(value: boolean) {
    if (value === this._active) {
      return;
    }
    this._active = value;
    if (value) {
      if (this._state === 'idle') {
        void this.reload();
      } else {
        void this.poll();
      }
    }
    this._schedule();
  }

  async refreshExperiments(): Promise<void> {
    try {
      const experiments = await this.api.experiments();
      const same =
        experiments.length === this._experiments.length &&
        experiments.every(
          (e, i) =>
            e.experiment_id === this._experiments[i].experiment_id &&
            e.name === this._experiments[i].name
        );
      if (same) {
        return;
      }
      this._experiments = experiments;
      const known = new Set(experiments.map(e => e.experiment_id));
      const kept = this._experimentIds.filter(id => known.has(id));
      if (kept.length !== this._experimentIds.length) {
        this._experimentIds = kept;
        void this.reload();
      }
    } catch (err) {
      this._error = String((err as Error).message ?? err);
    }
    this._emit();
  }

  /** Load everything again from the first page (new filter, experiment, or Refresh). */
  async reload(): Promise<void> {
    const generation = ++this._generation;
    this._abort?.abort();
    const abort = new AbortController();
    this._abort = abort;
    this._state = 'loading';
    this._total = null;
    this._totalExact = true;
    this._emit();
    const t0 = performance.now();
    void this.refreshExperiments();
    const base = {
      experimentIds: this._experimentIds,
      filter: this._filter,
      orderBy: this._order,
      tags: false
    };
    const { first, next, max } = this.pages;
    let token: string | null = null;
    let all: IRun[] = [];
    try {
      do {
        const page = await this.api.runs(
          {
            ...base,
            maxResults: all.length ? Math.min(next, max - all.length) : Math.min(first, max),
            pageToken: token
          },
          { signal: abort.signal }
        );
        if (generation !== this._generation) {
          return;
        }
        const firstPage = all.length === 0;
        all = firstPage ? page.runs : all.concat(page.runs);
        token = page.next_page_token;
        if (firstPage) {
          this._firstPageMs = performance.now() - t0;
          this._filterError = null;
          this._error = null;
        }
        this._truncated = !!token && all.length >= max;
        if (firstPage) {
          this._setRuns(all);
          if (token) {
            void this._loadTotal(base, generation, abort.signal);
          }
        } else {
          this._appendRuns(page.runs);
        }
        this._state = token && !this._truncated ? 'partial' : 'ready';
        if (this._state === 'ready') {
          this._pruneToShown();
        }
        this._emit();
      } while (token && all.length < max);
    } catch (err) {
      if (generation !== this._generation || abort.signal.aborted) {
        return;
      }
      this._fail(err);
    }
  }

  /** Ask the server how many runs match, beside the pages (it only scans, so it is quick). */
  private async _loadTotal(
    base: IRunsQuery,
    generation: number,
    signal: AbortSignal
  ): Promise<void> {
    try {
      const page = await this.api.runs(
        { ...base, orderBy: DEFAULT_ORDER, maxResults: 1, count: true },
        { signal }
      );
      if (generation !== this._generation || page.total === null) {
        return;
      }
      this._total = page.total;
      this._totalExact = page.total_exact !== false;
      this._emit();
    } catch {
      // The count is extra: without it the list still says when it was cut.
    }
  }

  /** Fold the newest runs (and the latest state of recent ones) into the list. */
  async poll(): Promise<void> {
    // While pages stream in ('partial') the next page replaces the list: a poll would be lost.
    if (this._polling || this._state !== 'ready') {
      return;
    }
    const generation = this._generation;
    this._polling = true;
    void this.refreshExperiments();
    try {
      // A complete list learns of new runs newest first. A cut one re-reads its own top in its
      // order: newest-first runs past the cut would be added below it, out of order.
      const cut = this._truncated;
      const page = await this.api.runs({
        experimentIds: this._experimentIds,
        filter: this._filter,
        orderBy: cut ? this._order : DEFAULT_ORDER,
        maxResults: cut ? Math.min(POLL_PAGE, this._runs.length) : POLL_PAGE,
        tags: false
      });
      if (generation !== this._generation) {
        return;
      }
      const merged = mergeRuns(this._runs, page.runs);
      if (merged.added === 0 && merged.changed > 0) {
        this._replaceRuns(merged.runs);
        this._emit();
      } else if (merged.added || merged.changed) {
        this._setRuns(merged.runs);
        this._emit();
      }
    } catch {
      // A failed poll is retried at the next tick; the last good list stays on screen.
    } finally {
      this._polling = false;
    }
  }

  dispose(): void {
    this._abort?.abort();
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
    }
    this._active = false;
    Signal.clearData(this);
  }

  private _fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const status = err instanceof ApiError ? err.status : 0;
    if (status === 400 && this._filter.trim()) {
      this._filterError = message;
      this._state = 'ready';
    } else {
      this._error = message;
      this._state = 'error';
    }
    this._emit();
  }

  /** After a full load: drop selected runs, and the focus, that the list no longer has. */
  private _pruneToShown(): void {
    const shown = new Set(this._runs.map(r => r.run_id));
    const kept = pruneSelection(this._selectedIds, shown);
    if (kept !== this._selectedIds) {
      this._applySelection(kept);
    }
    if (this._focused !== null && !shown.has(this._focused)) {
      this._focused = null;
    }
  }

  private _setRuns(runs: IRun[]): void {
    this._runs = runs;
    this._sorted = null;
    this._grouping = null;
    this._tree = null;
    this._keyCounts = new KeyCounts();
    this._keyCounts.add(runs);
    this._refreshKeys();
    this._refreshSelected(runs);
  }

  /**
   * Runs a poll found changed (none added), swapped in where they are: `next` is the list with
   * them in place of their earlier versions. The sorted list, its grouping and rows are
   * patched, not derived again, unless a run moved or changed parent.
   */
  private _replaceRuns(next: IRun[]): void {
    const old = this._runs;
    const changed = new Map<string, IRun>();
    const before: IRun[] = [];
    for (let i = 0; i < next.length; i++) {
      if (next[i] !== old[i]) {
        changed.set(next[i].run_id, next[i]);
        before.push(old[i]);
      }
    }
    const updates = [...changed.values()];
    this._runs = next;
    this._keyCounts.remove(before);
    this._keyCounts.add(updates);
    this._refreshKeys();
    this._refreshSelected(updates);
    if (this._sorted === null) {
      return; // nothing derived yet
    }
    const placed = replaceSorted(this._sorted, changed, this._sort, Date.now());
    const sameParents = before.every(r => changed.get(r.run_id)?.parent_run_id === r.parent_run_id);
    this._sorted = placed === null ? null : placed.runs;
    if (placed === null || placed.moved || !sameParents || this._grouping === null) {
      this._grouping = null;
      this._tree = null;
      return;
    }
    const patched = replaceInGrouping(this._grouping, this._tree, changed);
    this._grouping = patched.grouping;
    this._tree = patched.tree;
  }

  /**
   * Fold the next page of a reload in without redoing the whole list: the page is merged into
   * the sorted runs (appended when it comes in the sort's order, as server pages do), grouped
   * and flattened on its own, and its keys counted. At 100,000 runs redoing everything took
   * most of each page's time in the browser.
   */
  private _appendRuns(page: IRun[]): void {
    this._runs = this._runs.concat(page);
    this._keyCounts.add(page);
    this._refreshKeys();
    this._refreshSelected(page);
    const before = this._sorted;
    if (before === null) {
      return; // nothing derived yet: the getters derive it from the whole list when read
    }
    const sorted = mergeSorted(before, page, this._sort, Date.now());
    this._sorted = sorted;
    const appended = before.length === 0 || sorted[before.length - 1] === before[before.length - 1];
    const growth =
      appended && this._grouping !== null
        ? extendGrouping(this._grouping, sorted.slice(before.length))
        : null;
    this._grouping = growth ? growth.grouping : null;
    const tree = growth && this._tree ? extendTree(this._tree, growth, this._expanded) : null;
    this._tree = tree;
  }

  private _refreshKeys(): void {
    if (this._keys === null) {
      return;
    }
    const keys = this._keyCounts.keys;
    const same = (a: string[], b: string[]): boolean =>
      a.length === b.length && a.every((k, i) => k === b[i]);
    if (!same(keys.params, this._keys.params) || !same(keys.metrics, this._keys.metrics)) {
      this._defaultColumns = null;
      this._keys = keys;
    }
  }

  /** The selected runs' latest version among `runs`. */
  private _refreshSelected(runs: IRun[]): void {
    if (this._selected.size) {
      for (const run of runs) {
        if (this._selected.has(run.run_id)) {
          this._selected.set(run.run_id, run);
        }
      }
    }
  }

  private _schedule(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
    if (!this._active) {
      return;
    }
    this._timer = window.setTimeout(async () => {
      this._timer = null;
      if (!document.hidden) {
        await this.poll();
      }
      this._schedule();
    }, this.pollMs);
  }

  private _emit(): void {
    this._changed.emit();
  }

  private _changed = new Signal<this, void>(this);
  private _experiments: IExperiment[] = [];
  private _experimentIds: string[] = [];
  private _expanded: ReadonlySet<string> = new Set();
  private _tree: ITree | null = null;
  private _grouping: IGrouping | null = null;
  private _activeViews = new Set<string>();
  private _focused: string | null = null;
  private _revealCount = 0;
  private _filter = '';
  private _filterError: string | null = null;
  private _error: string | null = null;
  private _state: LoadState = 'idle';
  private _runs: IRun[] = [];
  private _sorted: IRun[] | null = null;
  private _keys: IKeys | null = null;
  private _keyCounts = new KeyCounts();
  private _columns: IColumn[] | null = null;
  private _defaultColumns: IColumn[] | null = null;
  private _sort: ISort = { by: { kind: 'attr', key: 'start_time' }, descending: true };
  private _order: string[] = DEFAULT_ORDER;
  private _selected = new Map<string, IRun>();
  private _selectedIds: ReadonlySet<string> = new Set();
  private _generation = 0;
  private _abort: AbortController | null = null;
  private _polling = false;
  private _active = false;
  private _timer: number | null = null;
  private _truncated = false;
  private _total: number | null = null;
  private _totalExact = true;
  private _firstPageMs: number | null = null;
}
