/**
 * Test doubles for the models' unit tests: an in-memory runs server (the part of TrackerAPI the
 * runs model calls) and the browser globals the models touch (window timers, document.hidden).
 */

import { ApiError } from '../apiError';
import { IRunsQuery } from '../logic/query';
import { IExperiment, IRun, IRunsPage } from '../logic/types';

Object.assign(globalThis, { window: globalThis, document: { hidden: false } });

export function run(id: string, extra: Partial<IRun> = {}): IRun {
  return {
    run_id: id,
    run_name: id,
    experiment_id: '1',
    status: 'FINISHED',
    start_time: 1000,
    end_time: 2000,
    user_id: 'u',
    artifact_uri: '',
    lifecycle_stage: 'active',
    parent_run_id: null,
    params: {},
    metrics: {},
    tags: {},
    ...extra
  };
}

export function experiment(id: string, name = `exp ${id}`): IExperiment {
  return {
    experiment_id: id,
    name,
    artifact_location: '',
    lifecycle_stage: 'active',
    creation_time: null,
    last_update_time: null,
    tags: {}
  };
}

/** A promise resolved by hand: lets a test hold a response back while another one lands. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>(r => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Wait until `condition` holds (polled; fails after `timeoutMs`, so a slow machine only waits). */
export async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise(resolve => setTimeout(resolve, 5));
  }
}

/** Let pending promise callbacks (and zero-delay timers) run. */
export function settle(ms = 0): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/**
 * Serves `runs` newest-first in pages; a filter is `params.<key> = '<value>'` or the word
 * `bad` (refused with a 400 like the server's filter errors). Every query is recorded.
 */
export class FakeRunsApi {
  runsList: IRun[] = [];
  experimentsList: IExperiment[] = [experiment('1'), experiment('2')];
  queries: IRunsQuery[] = [];
  /** The queries that asked for a count (kept apart: most tests are about the pages). */
  countQueries: IRunsQuery[] = [];
  /** Counts stop here, as the server's do at 1,000,000 (`total_exact` false past it). */
  countCap = Infinity;
  /** Set to make the next calls fail as if the server were down. */
  down = false;
  /** When set, `runs` waits for it before answering (one use). */
  gate: Promise<void> | null = null;

  experiments(): Promise<IExperiment[]> {
    if (this.down) {
      return Promise.reject(new ApiError('Cannot reach the Jupyter server', 0));
    }
    return Promise.resolve([...this.experimentsList]);
  }

  async runs(q: IRunsQuery, init: RequestInit = {}): Promise<IRunsPage> {
    if (q.count) {
      this.countQueries.push(q);
      const n = this._match(q).length;
      return { runs: [], next_page_token: null, total: Math.min(n, this.countCap), total_exact: n <= this.countCap };
    }
    this.queries.push(q);
    const gate = this.gate;
    this.gate = null;
    const matched = this._match(q);
    if (gate) {
      await gate;
    }
    if (init.signal?.aborted) {
      throw new DOMException('aborted', 'AbortError');
    }
    if (this.down) {
      throw new ApiError('Cannot reach the Jupyter server', 0);
    }
    const start = q.pageToken ? Number(q.pageToken) : 0;
    const size = q.maxResults ?? 1000;
    const page = matched.slice(start, start + size);
    const next = start + size < matched.length ? String(start + size) : null;
    return { runs: page, next_page_token: next, total: null };
  }

  private _match(q: IRunsQuery): IRun[] {
    const filter = (q.filter ?? '').trim();
    if (filter === 'bad') {
      throw new ApiError("Invalid filter 'bad': expected a comparison", 400, 'INVALID_PARAMETER_VALUE');
    }
    const m = /^params\.(\w+) = '(.*)'$/.exec(filter);
    return this.runsList.filter(
      r =>
        (!q.experimentIds?.length || q.experimentIds.includes(r.experiment_id)) &&
        (!m || r.params[m[1]] === m[2])
    );
  }
}
