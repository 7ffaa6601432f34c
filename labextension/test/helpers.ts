/**
 * Test helpers: run summaries, and a transport that answers from a route table
 * (the REST contract is exercised end to end by the browser tests).
 */
import { NbtrackApi, Requester } from '../src/api';
import { IRunSummary } from '../src/tokens';

/** A run summary with defaults. */
export function run(overrides: Partial<IRunSummary> = {}): IRunSummary {
  return {
    run_id: 'r1',
    run_name: 'run one',
    experiment_id: '0',
    status: 'FINISHED',
    start_time: 1_700_000_000_000,
    end_time: 1_700_000_060_000,
    notebook: null,
    current_notebook: false,
    params: {},
    metrics: {},
    tags: {},
    ...overrides
  };
}

/** A JSON response. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

/** One request the transport received. */
export interface ISeenRequest {
  url: URL;
  init: RequestInit;
}

/**
 * An API whose transport answers with `route(path, query)`; every request is
 * recorded in `seen`.
 */
export function apiWith(
  route: (path: string, query: URLSearchParams, init: RequestInit) => Response
): { api: NbtrackApi; seen: ISeenRequest[] } {
  const seen: ISeenRequest[] = [];
  const request: Requester = (url, init) => {
    const parsed = new URL(url, 'http://127.0.0.1');
    seen.push({ url: parsed, init });
    const path = parsed.pathname.replace('/lab-base/nbtrack/api/', '');
    return Promise.resolve(route(path, parsed.searchParams, init));
  };
  return { api: new NbtrackApi('/lab-base/', request), seen };
}
