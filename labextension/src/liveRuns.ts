/**
 * State of the main-area views of runs (compare, run details): the runs at their latest state,
 * re-read every few seconds while any of them is RUNNING and the view is visible, a version
 * bumped at each re-read (charts fetch their histories again), and the theme generation.
 */

import type { TrackerAPI } from './api';
import { HistoryCache } from './historyCache';
import { IRun } from './logic/types';
import { StateModel } from './state';
import { LIVE_MS, LiveRefresher } from './live';

/** How many runs of the experiment the details place their run among. */
const SIBLINGS = 1000;

/** The part of the API these views call (unit tests pass a fake). */
export type ILiveRunsSource = Pick<TrackerAPI, 'run' | 'runs' | 'history'>;

export class LiveRunsModel extends StateModel {
  constructor(
    readonly api: ILiveRunsSource,
    runs: IRun[],
    intervalMs = LIVE_MS
  ) {
    super();
    this._runs = runs;
    this.cache = new HistoryCache(api);
    this._live = new LiveRefresher(
      () => this.refresh(),
      () => this._runs.some(r => r.status === 'RUNNING'),
      () => this._visible,
      intervalMs
    );
  }

  /** Histories of the runs' metrics, emptied at each re-read. */
  readonly cache: HistoryCache;

  get runs(): IRun[] {
    return this._runs;
  }
  /** Bumped when the runs were re-read. */
  get version(): number {
    return this._version;
  }
  /** Bumped when the theme changed: charts read colours when built. */
  get themeKey(): number {
    return this._themeKey;
  }

  /** Whether the view is on screen (re-reads are skipped while it is not). */
  set visible(value: boolean) {
    this._visible = value;
  }

  /** Re-read the runs; keeps ticking while any of them runs. A run that fails to load stays. */
  async refresh(): Promise<void> {
    const fresh = await Promise.all(
      this._runs.map(r =>
        this.api.run(r.run_id).then(
          run => ({ run, ok: true }),
          () => ({ run: r, ok: false })
        )
      )
    );
    if (this.isDisposed) {
      return;
    }
    if (fresh.some(f => f.ok)) {
      this._runs = fresh.map(f => f.run);
      this.cache.clear();
      this._version++;
    }
    this.emit();
    this._live.schedule();
  }

  themeChanged(): void {
    this._themeKey++;
    this.emit();
  }

  dispose(): void {
    this._live.dispose();
    super.dispose();
  }

  private _runs: IRun[];
  private _version = 0;
  private _themeKey = 0;
  private _visible = true;
  private _live: LiveRefresher;
}

/** The compare tab: the runs, and whether only differing params and metrics are listed. */
export class CompareModel extends LiveRunsModel {
  get diffOnly(): boolean {
    return this._diffOnly;
  }
  set diffOnly(value: boolean) {
    this._diffOnly = value;
    this.emit();
  }

  private _diffOnly = false;
}

/** One run's details: the run, the other runs of its experiment, and a failed notebook jump. */
export class RunDetailsModel extends LiveRunsModel {
  constructor(api: ILiveRunsSource, run: IRun, intervalMs = LIVE_MS) {
    super(api, [run], intervalMs);
  }

  get run(): IRun {
    return this.runs[0];
  }
  /** The other runs of the experiment (null while loading). */
  get siblings(): IRun[] | null {
    return this._siblings;
  }
  /** Why "open the notebook at this cell" failed, if it did. */
  get navError(): string | null {
    return this._navError;
  }

  async loadSiblings(): Promise<void> {
    try {
      const page = await this.api.runs({
        experimentIds: [this.run.experiment_id],
        orderBy: ['attributes.start_time DESC'],
        maxResults: SIBLINGS
      });
      this._siblings = page.runs.filter(r => r.run_id !== this.run.run_id);
    } catch {
      this._siblings = [];
    }
    this.emit();
  }

  /** Run `open` (the notebook jump) and keep its error to show. */
  async openNotebook(open: (run: IRun) => Promise<void>): Promise<void> {
    this._navError = null;
    try {
      await open(this.run);
    } catch (err) {
      this._navError = err instanceof Error ? err.message : String(err);
    }
    this.emit();
  }

  private _siblings: IRun[] | null = null;
  private _navError: string | null = null;
}
