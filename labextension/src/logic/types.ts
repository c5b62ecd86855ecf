/**
 * JSON shapes of the native REST API (`{base_url}notebook-tracker/api/`).
 * Kept free of JupyterLab imports so the pure logic and its unit tests can use them.
 */

export interface IExperiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: string;
  creation_time: number | null;
  last_update_time: number | null;
  tags: Record<string, string>;
}

// `string & {}` keeps the known names in editors' completion while any other status type-checks.
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED' | (string & {});

export interface IRun {
  run_id: string;
  run_name: string;
  experiment_id: string;
  status: RunStatus;
  start_time: number | null;
  end_time: number | null;
  user_id: string;
  artifact_uri: string;
  lifecycle_stage: string;
  parent_run_id: string | null;
  params: Record<string, string>;
  metrics: Record<string, number | null>;
  tags: Record<string, string>;
}

export interface IRunsPage {
  runs: IRun[];
  next_page_token: string | null;
  /** How many runs match, when asked (`count`); null when not asked or not known. */
  total: number | null;
  /** With `count`: false when more matched than the server counts (`total` a lower bound). */
  total_exact?: boolean;
}

export interface IMetricHistory {
  key: string;
  total: number;
  downsampled: boolean;
  step: number[];
  timestamp: number[];
  value: (number | null)[];
}

export interface IFileInfo {
  path: string;
  is_dir: boolean;
  file_size: number | null;
}

export interface IModelVersion {
  name: string;
  version: number | string;
  current_stage?: string | null;
  status?: string | null;
  run_id?: string | null;
  source?: string | null;
  description?: string | null;
  creation_timestamp?: number | null;
  aliases?: string[];
  tags?: Record<string, string>;
}

export interface IRegisteredModel {
  name: string;
  description?: string | null;
  latest_versions: IModelVersion[];
  aliases: Record<string, number | string>;
  tags: Record<string, string>;
}

export interface IServedModel {
  name: string;
  version: number | string;
  /** Scoring URL, relative to the extension's root (`{base_url}notebook-tracker/`). */
  url: string;
  pid: number | null;
  /** starting, ready, dead, failed or stopped. */
  state: string;
  restarts?: number;
}

/** A column of the runs table beyond the fixed ones: a param or a metric key. */
export interface IColumn {
  kind: 'param' | 'metric';
  key: string;
}

export type SortKey =
  | { kind: 'attr'; key: 'status' | 'run_name' | 'start_time' | 'duration' }
  | IColumn;

export interface ISort {
  by: SortKey;
  descending: boolean;
}
