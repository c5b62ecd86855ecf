/**
 * State of the runs sidebar: experiments, the loaded runs, filter, sort, columns, selection,
 * and the polling that folds new runs in. Views listen to `changed` and read the getters.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, TrackerAPI } from './api';
import { collectKeys, defaultColumns, IKeys, mergeRuns, sortRuns } from './logic/runs';
import { IColumn, IExperiment, IRun, ISort } from './logic/types';

/** First page small so the table shows at once; later pages larger to load the rest fast. */
const FIRST_PAGE = 500;
const NEXT_PAGE = 5000;
const MAX_RUNS = 50000;
const POLL_PAGE = 200;
const ORDER = ['attributes.start_time DESC'];

export type LoadState = 'idle' | 'loading' | 'partial' | 'ready' | 'error';

export class RunsModel {
  constructor(
    readonly api: TrackerAPI,
    readonly pollMs = 4000
  ) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get experiments(): IExperiment[] {
    return this._experiments;
  }
  get experimentId(): string {
    return this._experimentId;
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
  /** True when more runs matched than the panel keeps (MAX_RUNS). */
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

  get keys(): IKeys {
    if (this._keys === null) {
      this._keys = collectKeys(this._runs);
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
    const byId = new Map(this._runs.map(r => [r.run_id, r]));
    const next = new Map<string, IRun>();
    for (const id of ids) {
      const run = byId.get(id) ?? this._selected.get(id);
      if (run) {
        next.set(id, run);
      }
    }
    this._selected = next;
    this._selectedIds = new Set(next.keys());
    this._emit();
  }

  clearSelection(): void {
    this.selectedIds = new Set();
  }

  setSort(sort: ISort): void {
    this._sort = sort;
    this._sorted = null;
    this._emit();
  }

  setExperiment(id: string): void {
    if (id !== this._experimentId) {
      this._experimentId = id;
      void this.reload();
    }
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
      this._experiments = await this.api.experiments();
      if (
        this._experimentId &&
        !this._experiments.some(e => e.experiment_id === this._experimentId)
      ) {
        this._experimentId = '';
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
    this._emit();
    const t0 = performance.now();
    void this.refreshExperiments();
    const base = {
      experimentIds: this._experimentId ? [this._experimentId] : [],
      filter: this._filter,
      orderBy: ORDER
    };
    let token: string | null = null;
    let all: IRun[] = [];
    try {
      do {
        const page = await this.api.runs(
          { ...base, maxResults: all.length ? NEXT_PAGE : FIRST_PAGE, pageToken: token },
          { signal: abort.signal }
        );
        if (generation !== this._generation) {
          return;
        }
        all = all.length ? all.concat(page.runs) : page.runs;
        token = page.next_page_token;
        if (all.length === page.runs.length) {
          this._firstPageMs = performance.now() - t0;
          this._filterError = null;
          this._error = null;
        }
        this._truncated = !!token && all.length >= MAX_RUNS;
        this._setRuns(all);
        this._state = token && !this._truncated ? 'partial' : 'ready';
        this._emit();
      } while (token && all.length < MAX_RUNS);
    } catch (err) {
      if (generation !== this._generation || abort.signal.aborted) {
        return;
      }
      this._fail(err);
    }
  }

  /** Fold the newest runs (and the latest state of recent ones) into the list. */
  async poll(): Promise<void> {
    if (this._polling || this._state === 'loading' || this._state === 'error') {
      return;
    }
    const generation = this._generation;
    this._polling = true;
    try {
      const page = await this.api.runs({
        experimentIds: this._experimentId ? [this._experimentId] : [],
        filter: this._filter,
        orderBy: ORDER,
        maxResults: POLL_PAGE
      });
      if (generation !== this._generation) {
        return;
      }
      const merged = mergeRuns(this._runs, page.runs);
      if (merged.added || merged.changed) {
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

  private _setRuns(runs: IRun[]): void {
    this._runs = runs;
    this._sorted = null;
    if (this._keys !== null) {
      const keys = collectKeys(runs);
      const same = (a: string[], b: string[]): boolean =>
        a.length === b.length && a.every((k, i) => k === b[i]);
      if (!same(keys.params, this._keys.params) || !same(keys.metrics, this._keys.metrics)) {
        this._defaultColumns = null;
      }
      this._keys = keys;
    }
    if (this._selected.size) {
      const byId = new Map(runs.map(r => [r.run_id, r]));
      for (const id of this._selected.keys()) {
        const fresh = byId.get(id);
        if (fresh) {
          this._selected.set(id, fresh);
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
  private _experimentId = '';
  private _filter = '';
  private _filterError: string | null = null;
  private _error: string | null = null;
  private _state: LoadState = 'idle';
  private _runs: IRun[] = [];
  private _sorted: IRun[] | null = null;
  private _keys: IKeys | null = null;
  private _columns: IColumn[] | null = null;
  private _defaultColumns: IColumn[] | null = null;
  private _sort: ISort = { by: { kind: 'attr', key: 'start_time' }, descending: true };
  private _selected = new Map<string, IRun>();
  private _selectedIds: ReadonlySet<string> = new Set();
  private _generation = 0;
  private _abort: AbortController | null = null;
  private _polling = false;
  private _active = false;
  private _timer: number | null = null;
  private _truncated = false;
  private _firstPageMs: number | null = null;
}
