/**
 * Client of the nbtrack server extension's REST API ({base_url}nbtrack/api/).
 *
 * The transport is injected: the plugin passes ServerConnection.makeRequest (which
 * adds the token and the XSRF header); unit tests pass a function returning Responses.
 */
import {
  IArtifactFile,
  ICompare,
  IExperiment,
  IHistorySeries,
  IMetricHistory,
  IRunDetail,
  IRunsPage,
  IServerStatus,
  ITimelineCell,
  SERVER_MISSING_HELP
} from './tokens';

/** Sends one request; resolves with the response whatever its status. */
export type Requester = (url: string, init: RequestInit) => Promise<Response>;

/** Query parameters; undefined, null and '' values are left out. */
export type Query = Record<string, string | number | null | undefined>;

/** An error answered by the server (status >= 400), with its message. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string = ''
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The server extension is not installed or not enabled (its routes answer 404). */
export class ServerMissingError extends ApiError {
  constructor() {
    super(SERVER_MISSING_HELP, 404, 'server extension missing');
    this.name = 'ServerMissingError';
  }
}

/** The prefix of every endpoint, relative to the server's base URL. */
export const API_PREFIX = 'nbtrack/api/';

/**
 * The URL of an endpoint: base URL + prefix + path segments (each encoded) + query.
 *
 * Segments are encoded one by one so that a run id can never add a path level.
 */
export function buildUrl(
  baseUrl: string,
  segments: readonly string[],
  query: Query = {}
): string {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const path = segments.map(s => encodeURIComponent(s)).join('/');
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') {
      params.append(key, String(value));
    }
  }
  const search = params.toString();
  return `${base}${API_PREFIX}${path}${search ? `?${search}` : ''}`;
}

/** Options of {@link NbtrackApi.runs}. */
export interface IRunsQuery {
  notebook?: string | null;
  experimentId?: string | null;
  filter?: string;
  orderBy?: string;
  maxResults?: number;
  pageToken?: string | null;
}

/** Typed access to every endpoint the labextension uses. */
export class NbtrackApi {
  constructor(
    readonly baseUrl: string,
    private readonly _request: Requester
  ) {}

  /** GET status; a 404 means the server extension is missing. */
  async status(notebook?: string | null): Promise<IServerStatus> {
    try {
      return await this.getJson<IServerStatus>(['status'], { notebook });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        throw new ServerMissingError();
      }
      throw error;
    }
  }

  /** GET experiments. */
  async experiments(notebook?: string | null): Promise<IExperiment[]> {
    const body = await this.getJson<{ experiments: IExperiment[] }>(
      ['experiments'],
      { notebook }
    );
    return body.experiments;
  }

  /** GET runs: the notebook's runs first, then the others. */
  runs(query: IRunsQuery = {}): Promise<IRunsPage> {
    return this.getJson<IRunsPage>(['runs'], {
      notebook: query.notebook,
      experiment_id: query.experimentId,
      filter: query.filter?.trim(),
      order_by: query.orderBy,
      max_results: query.maxResults ?? 50,
      page_token: query.pageToken
    });
  }

  /** GET runs/<id>. */
  async run(runId: string, notebook?: string | null): Promise<IRunDetail> {
    const body = await this.getJson<{ run: IRunDetail }>(['runs', runId], {
      notebook
    });
    // The views index these maps: an older server may leave them out.
    return {
      ...body.run,
      metrics: body.run.metrics ?? {},
      metrics_detail: body.run.metrics_detail ?? {}
    };
  }

  /** GET runs/<id>/history for one metric. */
  history(
    runId: string,
    key: string,
    notebook?: string | null,
    maxPoints = 2000
  ): Promise<IMetricHistory> {
    return this.getJson<IMetricHistory>(['runs', runId, 'history'], {
      key,
      max_points: maxPoints,
      notebook
    });
  }

  /**
   * GET histories: every (run, key) series in one answer, each cut server-side to
   * about `maxPoints` (its per-bucket min and max) when longer.
   */
  async histories(
    runIds: readonly string[],
    keys: readonly string[],
    notebook?: string | null,
    maxPoints = 1000
  ): Promise<IHistorySeries[]> {
    const body = await this.getJson<{ histories: IHistorySeries[] }>(
      ['histories'],
      { notebook, max_points: maxPoints },
      [
        ...runIds.map(id => ['run_id', id] as const),
        ...keys.map(k => ['key', k] as const)
      ]
    );
    return body.histories;
  }

  /** GET compare: params diff, metric summaries and the notebook diff of base → other. */
  compare(
    runIds: readonly string[],
    notebook?: string | null,
    base?: string | null,
    other?: string | null
  ): Promise<ICompare> {
    return this.getJson<ICompare>(
      ['compare'],
      { notebook, base, other },
      runIds.map(id => ['run_id', id] as const)
    );
  }

  /** GET runs/<id>/timeline. */
  async timeline(
    runId: string,
    notebook?: string | null
  ): Promise<ITimelineCell[]> {
    const body = await this.getJson<{ cells: ITimelineCell[] }>(
      ['runs', runId, 'timeline'],
      { notebook }
    );
    return body.cells;
  }

  /** GET runs/<id>/artifacts (recursive listing under `path`). */
  async artifacts(
    runId: string,
    notebook?: string | null,
    path?: string
  ): Promise<IArtifactFile[]> {
    const body = await this.getJson<{ files: IArtifactFile[] }>(
      ['runs', runId, 'artifacts'],
      { path, notebook }
    );
    return body.files;
  }

  /** The URL of one artifact's bytes (GET runs/<id>/artifacts/raw). */
  artifactUrl(runId: string, path: string, notebook?: string | null): string {
    return buildUrl(this.baseUrl, ['runs', runId, 'artifacts', 'raw'], {
      path,
      notebook
    });
  }

  /** GET runs/<id>/artifacts/raw as a Blob (the request carries the auth headers). */
  async artifactBlob(
    runId: string,
    path: string,
    notebook?: string | null
  ): Promise<Blob> {
    const response = await this.send(this.artifactUrl(runId, path, notebook), {
      method: 'GET'
    });
    return response.blob();
  }

  /** GET runs/<id>/snapshot: the nbformat v4 notebook captured with the run. */
  snapshot(runId: string, notebook?: string | null): Promise<INotebookJson> {
    return this.getJson<INotebookJson>(['runs', runId, 'snapshot'], {
      notebook
    });
  }

  /** GET runs/<id>/environment. */
  environment(
    runId: string,
    notebook?: string | null
  ): Promise<Record<string, unknown>> {
    return this.getJson<Record<string, unknown>>(
      ['runs', runId, 'environment'],
      { notebook }
    );
  }

  /** GET an endpoint and parse its JSON body; `repeated` adds `name=value` pairs. */
  async getJson<T>(
    segments: readonly string[],
    query: Query = {},
    repeated: readonly (readonly [string, string])[] = []
  ): Promise<T> {
    let url = buildUrl(this.baseUrl, segments, query);
    if (repeated.length) {
      const extra = new URLSearchParams(repeated.map(([k, v]) => [k, v]));
      url += `${url.includes('?') ? '&' : '?'}${extra.toString()}`;
    }
    const response = await this.send(url, { method: 'GET' });
    return (await response.json()) as T;
  }

  /** POST a JSON body (the mutating endpoints accept only application/json). */
  async postJson<T>(
    segments: readonly string[],
    body: unknown,
    query: Query = {}
  ): Promise<T> {
    const response = await this.send(buildUrl(this.baseUrl, segments, query), {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' }
    });
    return (await response.json()) as T;
  }

  /** Send a request; a status >= 400 becomes an ApiError carrying the server's message. */
  private async send(url: string, init: RequestInit): Promise<Response> {
    const response = await this._request(url, init);
    if (!response.ok) {
      throw await errorFromResponse(response);
    }
    return response;
  }
}

/** The nbformat v4 JSON of a notebook (only what the read-only view reads is typed). */
export interface INotebookJson {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: INotebookCellJson[];
}

/** One cell of {@link INotebookJson}. */
export interface INotebookCellJson {
  cell_type: 'code' | 'markdown' | 'raw';
  id?: string;
  source: string | string[];
  metadata?: Record<string, unknown>;
  execution_count?: number | null;
  outputs?: Record<string, unknown>[];
}

/**
 * The ApiError of a failed response: the JSON `message` when the server sent one
 * (jupyter_server's error pages are HTML: then the status text is used).
 */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let message = '';
  let reason = '';
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { message?: unknown; reason?: unknown };
    if (typeof body.message === 'string') {
      message = body.message;
    }
    if (typeof body.reason === 'string') {
      reason = body.reason;
    }
  } catch {
    // Not JSON (an HTML error page): fall back to the status line below.
  }
  if (!message) {
    message = `${response.status} ${response.statusText || 'error'}`.trim();
  }
  return new ApiError(message, response.status, reason);
}
