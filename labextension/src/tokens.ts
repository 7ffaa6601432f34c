/**
 * Shared types and constants: the REST payloads of the nbtrack server extension
 * (see the contract in the repository's api brief), command ids and DOM hooks.
 */

/** Run statuses as the store reports them. */
export type RunStatus =
  'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED' | 'SCHEDULED';

/** GET status. */
export interface IServerStatus {
  version: string;
  store_exists: boolean;
  tracking_uri: string | null;
  /** The store's directory (or file) as a user names it (servers from 0.1 on). */
  store_path?: string;
  /** Why an existing store cannot be read as it is (e.g. it needs upgrading). */
  store_problem?: string | null;
}

/** One experiment of GET experiments. */
export interface IExperiment {
  experiment_id: string;
  name: string;
  lifecycle_stage: string;
  creation_time: number | null;
  tags: Record<string, string>;
}

/** One run of GET runs. */
export interface IRunSummary {
  run_id: string;
  run_name: string;
  experiment_id: string;
  status: RunStatus;
  start_time: number;
  end_time: number | null;
  notebook: string | null;
  current_notebook: boolean;
  params: Record<string, string>;
  /** Latest values; null for a non-finite one (NaN, ±∞: JSON cannot spell them). */
  metrics: Record<string, MetricValue>;
  tags: Record<string, string>;
}

/** GET runs. */
export interface IRunsPage {
  runs: IRunSummary[];
  next_page_token: string | null;
}

/**
 * A metric value as the server sends it: null stands for NaN or ±∞, which the
 * store keeps but JSON cannot spell.
 */
export type MetricValue = number | null;

/** The latest value of one metric with its range, from GET runs/<id>. */
export interface IMetricDetail {
  value: MetricValue;
  step: number;
  timestamp: number;
  min: MetricValue;
  max: MetricValue;
}

/** GET runs/<id>. */
export interface IRunDetail extends IRunSummary {
  metrics_detail: Record<string, IMetricDetail>;
  lifecycle_stage: string;
}

/** One point of a metric history. */
export interface IMetricPoint {
  step: number;
  timestamp: number;
  value: MetricValue;
}

/** GET runs/<id>/history. */
export interface IMetricHistory {
  key: string;
  points: IMetricPoint[];
  downsampled: boolean;
  total_points: number;
}

/** One executed cell of a run's timeline. */
export interface ITimelineCell {
  execution_count: number | null;
  cell_id: string | null;
  source: string;
  started: number;
  finished: number | null;
  metrics: string[];
  params: string[];
  error?: boolean;
}

/** One entry of GET runs/<id>/artifacts. */
export interface IArtifactFile {
  path: string;
  is_dir: boolean;
  file_size: number | null;
}

/** The active run of a kernel, as its "run" comm message describes it. */
export interface IActiveRun {
  run_id: string;
  run_name: string;
  experiment_id: string;
  experiment_name: string | null;
  start_time: number;
  tracking_uri: string;
}

/** The comm target the kernel registers on `%load_ext nbtrack`. */
export const COMM_TARGET = 'nbtrack.snapshot';
/** Version of the comm message format (src/nbtrack/notebook/_comm.py). */
export const COMM_PROTOCOL = 1;

/** Command ids (stable: browser tests and users' shortcuts rely on them). */
export const CommandIDs = {
  startRun: 'nbtrack:start-run',
  endRun: 'nbtrack:end-run',
  snapshot: 'nbtrack:snapshot',
  openRuns: 'nbtrack:open-runs',
  openRun: 'nbtrack:open-run'
} as const;

/** Code the commands run in the kernel. */
export const KernelCode = {
  load: '%load_ext nbtrack',
  start: '%track start',
  end: '%track end',
  snapshot: '%track snapshot'
} as const;

/** The fix shown when the server extension does not answer. */
export const SERVER_MISSING_HELP =
  'The nbtrack server extension is not running. Install it with `pip install nbtrack` ' +
  '(or enable it with `jupyter server extension enable nbtrack`), then restart JupyterLab.';
