/**
 * Parallel coordinates: each param (and the chosen metric, last) is a vertical axis at
 * x = 0, 1, 2, ...; each run is a polyline through its values scaled to [0, 1] per axis.
 * Numeric params scale by min/max; other params take evenly spaced slots in sorted order.
 */

import { IRun } from './types';

export interface IAxis {
  key: string;
  kind: 'param' | 'metric';
  numeric: boolean;
  min: number;
  max: number;
  /** Category labels, bottom to top, for non-numeric axes. */
  categories: string[];
}

export interface IParallel {
  axes: IAxis[];
  /** Per run: y in [0, 1] per axis, null where the run lacks the value. */
  lines: (number | null)[][];
  /** Per run: the metric scaled to [0, 1] (colour), null when missing. */
  shade: (number | null)[];
}

function numeric(v: string | undefined): number | null {
  if (v === undefined || v.trim() === '') {
    return null;
  }
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function scale(v: number, min: number, max: number): number {
  return max === min ? 0.5 : (v - min) / (max - min);
}

/** Params that vary across runs (a constant param says nothing), in key order. */
export function varyingParams(runs: IRun[]): string[] {
  const keys = new Set<string>();
  runs.forEach(r => Object.keys(r.params).forEach(k => keys.add(k)));
  return [...keys]
    .filter(k => new Set(runs.map(r => r.params[k])).size > 1)
    .sort();
}

export function parallelCoordinates(runs: IRun[], params: string[], metric: string): IParallel {
  const axes: IAxis[] = params.map(key => {
    const raw = runs.map(r => r.params[key]);
    const nums = raw.map(numeric);
    const present = raw.filter((v): v is string => v !== undefined);
    const isNumeric = present.length > 0 && present.every(v => numeric(v) !== null);
    if (isNumeric) {
      const vals = nums.filter((v): v is number => v !== null);
      return {
        key,
        kind: 'param',
        numeric: true,
        min: Math.min(...vals),
        max: Math.max(...vals),
        categories: []
      };
    }
    const categories = [...new Set(present)].sort();
    return { key, kind: 'param', numeric: false, min: 0, max: 0, categories };
  });
  const mvals = runs
    .map(r => r.metrics[metric])
    .filter(v => typeof v === 'number' && Number.isFinite(v)) as number[];
  axes.push({
    key: metric,
    kind: 'metric',
    numeric: true,
    min: mvals.length ? Math.min(...mvals) : 0,
    max: mvals.length ? Math.max(...mvals) : 0,
    categories: []
  });
  const lines = runs.map(run =>
    axes.map(axis => {
      if (axis.kind === 'metric') {
        const v = run.metrics[axis.key];
        return typeof v === 'number' && Number.isFinite(v) ? scale(v, axis.min, axis.max) : null;
      }
      const raw = run.params[axis.key];
      if (raw === undefined) {
        return null;
      }
      if (axis.numeric) {
        return scale(numeric(raw) as number, axis.min, axis.max);
      }
      const n = axis.categories.length;
      return n <= 1 ? 0.5 : axis.categories.indexOf(raw) / (n - 1);
    })
  );
  return { axes, lines, shade: lines.map(l => l[l.length - 1]) };
}

/** Short text describing an axis' range, shown under the chart. */
export function axisRange(axis: IAxis): string {
  if (!axis.numeric) {
    return axis.categories.join(' · ');
  }
  return axis.min === axis.max ? `${axis.min}` : `${axis.min} … ${axis.max}`;
}

/** Labels along an axis at their height t in [0, 1]: min, middle and max, or each category. */
export function axisTicks(axis: IAxis): { t: number; label: string }[] {
  if (!axis.numeric) {
    const n = axis.categories.length;
    return axis.categories.map((c, i) => ({ t: n <= 1 ? 0.5 : i / (n - 1), label: c }));
  }
  if (axis.min === axis.max) {
    return [{ t: 0.5, label: String(Number(axis.min.toPrecision(6))) }];
  }
  const mid = (axis.min + axis.max) / 2;
  const short = (v: number): string => String(Number(v.toPrecision(4)));
  return [
    { t: 0, label: short(axis.min) },
    { t: 0.5, label: short(mid) },
    { t: 1, label: short(axis.max) }
  ];
}
