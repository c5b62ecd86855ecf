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
    const y: (number | null)[] = new Array(x.length).fill(null);
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
