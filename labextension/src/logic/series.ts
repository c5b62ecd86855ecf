/**
 * Metric histories → uPlot's aligned data: one shared, sorted x array and one y array per
 * run (null where that run has no point at that x; the chart spans the gaps).
 */

import { IMetricHistory } from './types';

export type XAxis = 'step' | 'timestamp';

/** [x, y1, y2, ...] as uPlot takes it. */
export type Aligned = [number[], ...(number | null)[][]];

export interface IXY {
  x: number[];
  y: (number | null)[];
}

/** x values of a history: steps, or wall-clock seconds (uPlot's time scale is in seconds). */
export function historyXY(h: IMetricHistory, x: XAxis): IXY {
  if (x === 'step') {
    return { x: h.step, y: h.value };
  }
  return { x: h.timestamp.map(t => t / 1000), y: h.value };
}

/**
 * Merge series with their own x into one aligned table. Inputs need not be sorted; a run
 * with several points at one x keeps the last (as a step logged twice shows its latest value).
 */
export function alignSeries(series: IXY[], logScale = false): Aligned {
  const xs = new Set<number>();
  for (const s of series) {
    for (const x of s.x) {
      if (Number.isFinite(x)) {
        xs.add(x);
      }
    }
  }
  const x = Float64Array.from(xs).sort();
  const index = new Map<number, number>();
  x.forEach((v, i) => index.set(v, i));
  const ys = series.map(s => {
    const y = new Array<number | null>(x.length).fill(null);
    for (let i = 0; i < s.x.length; i++) {
      const at = index.get(s.x[i]);
      if (at === undefined) {
        continue;
      }
      const v = s.y[i];
      y[at] = v === null || !Number.isFinite(v) || (logScale && v <= 0) ? null : v;
    }
    return y;
  });
  return [Array.from(x), ...ys];
}

/** Whether any value is positive, so a log scale has something to show. */
export function hasPositive(aligned: Aligned): boolean {
  for (let i = 1; i < aligned.length; i++) {
    for (const v of aligned[i] as (number | null)[]) {
      if (v !== null && v > 0) {
        return true;
      }
    }
  }
  return false;
}

/** A metric logged once per run (auto-logged results): drawn as points, not curves. */
export function isSingleValued(histories: ({ value: unknown[] } | null)[]): boolean {
  return histories.every(h => h === null || h.value.length <= 1);
}

export interface IPoint {
  x: number;
  y: number;
  /** Which series (run, or group of runs) the point belongs to. */
  group: number;
}

/**
 * Scatter points → aligned data: one row per point sorted by x (several rows may share an x),
 * one y column per group holding that group's points and nulls elsewhere.
 */
export function scatterData(points: IPoint[], groups: number): Aligned {
  const ok = points
    .filter(p => Number.isFinite(p.x) && Number.isFinite(p.y))
    .sort((a, b) => a.x - b.x);
  const ys: (number | null)[][] = [];
  for (let g = 0; g < groups; g++) {
    ys.push(new Array<number | null>(ok.length).fill(null));
  }
  ok.forEach((p, i) => {
    if (p.group >= 0 && p.group < groups) {
      ys[p.group][i] = p.y;
    }
  });
  return [ok.map(p => p.x), ...ys];
}

export interface IParamAxis {
  /** x of each input value; null when the run has no such param. */
  xs: (number | null)[];
  /** Category labels when the values are not all numbers (x = index into this). */
  categories: string[] | null;
  /** Numbers spanning two decades or more, all positive: a log axis reads better. */
  log: boolean;
}

/** Where each run's param value goes on an x axis: numbers as numbers, text as categories. */
export function paramAxis(values: (string | undefined)[]): IParamAxis {
  const present = values.filter((v): v is string => v !== undefined && v !== '');
  const numeric = present.length > 0 && present.every(v => Number.isFinite(Number(v)));
  if (numeric) {
    const xs = values.map(v => (v === undefined || v === '' ? null : Number(v)));
    const nums = xs.filter((x): x is number => x !== null);
    const min = Math.min(...nums);
    const max = Math.max(...nums);
    return { xs, categories: null, log: min > 0 && max / min >= 100 };
  }
  const categories = [...new Set(present)].sort();
  const index = new Map(categories.map((c, i) => [c, i]));
  return {
    xs: values.map(v => (v === undefined || v === '' ? null : index.get(v)!)),
    categories,
    log: false
  };
}
