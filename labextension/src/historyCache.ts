/** Metric histories fetched once per (run, metric, x axis) for the life of a view. */

import type { TrackerAPI } from './api';
import { XAxis } from './logic/series';
import { IMetricHistory } from './logic/types';

/** Points per history: the server downsamples a million-point metric to this. */
export const MAX_POINTS = 1000;

export class HistoryCache {
  constructor(private readonly api: Pick<TrackerAPI, 'history'>) {}

  get(runId: string, key: string, x: XAxis): Promise<IMetricHistory> {
    const id = `${runId}\u0000${key}\u0000${x}`;
    let p = this._cache.get(id);
    if (!p) {
      p = this.api.history(runId, key, x, MAX_POINTS);
      p.catch(() => this._cache.delete(id));
      this._cache.set(id, p);
    }
    return p;
  }

  clear(): void {
    this._cache.clear();
  }

  private _cache = new Map<string, Promise<IMetricHistory>>();
}
