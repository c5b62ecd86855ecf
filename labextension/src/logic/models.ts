/** Registered models as the Models tab lists them: versions newest first, with their aliases
 * and whether (and how) each is being served. */

import { IModelVersion, IRegisteredModel, IServedModel } from './types';

export interface IVersionRow {
  version: string;
  aliases: string[];
  stage: string;
  status: string;
  runId: string | null;
  served: IServedModel | null;
}

export function versionRows(
  model: IRegisteredModel,
  versions: IModelVersion[] | null,
  served: IServedModel[]
): IVersionRow[] {
  const list = versions && versions.length ? versions : (model.latest_versions ?? []);
  const aliasesOf = new Map<string, string[]>();
  for (const [alias, v] of Object.entries(model.aliases ?? {})) {
    const key = String(v);
    aliasesOf.set(key, [...(aliasesOf.get(key) ?? []), alias]);
  }
  const servedOf = new Map(
    served.filter(s => s.name === model.name).map(s => [String(s.version), s])
  );
  const seen = new Set<string>();
  const rows: IVersionRow[] = [];
  for (const v of list) {
    const version = String(v.version);
    if (seen.has(version)) {
      continue;
    }
    seen.add(version);
    const aliases = new Set([...(v.aliases ?? []), ...(aliasesOf.get(version) ?? [])]);
    rows.push({
      version,
      aliases: [...aliases].sort(),
      stage: v.current_stage && v.current_stage !== 'None' ? v.current_stage : '',
      status: v.status ?? '',
      runId: v.run_id ?? null,
      served: servedOf.get(version) ?? null
    });
  }
  // A served version missing from the listing (registry changed since) still shows.
  for (const [version, s] of servedOf) {
    if (!seen.has(version)) {
      rows.push({ version, aliases: [], stage: '', status: '', runId: null, served: s });
    }
  }
  const num = (v: string): number => (Number.isFinite(Number(v)) ? Number(v) : -1);
  return rows.sort((a, b) => num(b.version) - num(a.version));
}

/** Serving states in which the worker is up or coming up (Stop applies). */
export function isLive(state: string): boolean {
  return state === 'ready' || state === 'starting';
}
