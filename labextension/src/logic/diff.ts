/** Side-by-side rows of params (or metrics) for the compare view, flagging differences. */

import { IRun } from './types';

export interface IDiffRow<T> {
  key: string;
  /** One value per run, in the runs' order; undefined where a run lacks the key. */
  values: (T | undefined)[];
  differs: boolean;
}

function rows<T>(records: Record<string, T>[], same: (a: T, b: T) => boolean): IDiffRow<T>[] {
  const keys = new Set<string>();
  for (const r of records) {
    Object.keys(r).forEach(k => keys.add(k));
  }
  return [...keys].sort().map(key => {
    const values = records.map(r => (key in r ? r[key] : undefined));
    const first = values[0];
    const differs = values.some(v =>
      v === undefined || first === undefined ? v !== first : !same(v, first)
    );
    return { key, values, differs };
  });
}

export function paramRows(runs: IRun[]): IDiffRow<string>[] {
  return rows(
    runs.map(r => r.params),
    (a, b) => a === b
  );
}

export function metricRows(runs: IRun[]): IDiffRow<number | null>[] {
  return rows(
    runs.map(r => r.metrics),
    (a, b) => Object.is(a, b)
  );
}

export function onlyDifferences<T>(all: IDiffRow<T>[], differencesOnly: boolean): IDiffRow<T>[] {
  return differencesOnly ? all.filter(r => r.differs) : all;
}
