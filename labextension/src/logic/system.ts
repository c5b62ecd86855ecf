/** System metrics (`system/...`, `system/<node>/...`, MLflow's names): shown in their own section. */

import { IRun } from './types';

export const SYSTEM_PREFIX = 'system/';

export function isSystemMetric(key: string): boolean {
  return key.startsWith(SYSTEM_PREFIX);
}

type Metrics = IRun['metrics'];

/** The run's metrics split in two: what the user logged, and the machine's `system/...`. */
export function splitSystemMetrics(metrics: Metrics): { user: Metrics; system: Metrics } {
  const user: Metrics = {};
  const system: Metrics = {};
  for (const [key, value] of Object.entries(metrics)) {
    (isSystemMetric(key) ? system : user)[key] = value;
  }
  return { user, system };
}

/** The same run seen with only some of its metrics (for a chart grid of those). */
export function withMetrics(run: IRun, metrics: Metrics): IRun {
  return { ...run, metrics };
}
