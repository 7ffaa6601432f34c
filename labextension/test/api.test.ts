import { describe, expect, it } from 'vitest';
import {
  ApiError,
  buildUrl,
  errorFromResponse,
  ServerMissingError
} from '../src/api';
import { SERVER_MISSING_HELP } from '../src/tokens';
import { apiWith, json } from './helpers';

describe('buildUrl', () => {
  it('joins the base URL, the prefix and encoded segments', () => {
    expect(buildUrl('/base/', ['runs', 'abc', 'history'])).toBe(
      '/base/nbtrack/api/runs/abc/history'
    );
    expect(buildUrl('/base', ['status'])).toBe('/base/nbtrack/api/status');
  });

  it('encodes each segment so an id cannot add a path level', () => {
    expect(buildUrl('/', ['runs', '../x/y'])).toBe(
      '/nbtrack/api/runs/..%2Fx%2Fy'
    );
  });

  it('leaves out empty query values and encodes the others', () => {
    const url = buildUrl('/', ['runs'], {
      filter: "metrics.acc > 0.9 and params.lr = '0.01'",
      notebook: 'dir/a b.ipynb',
      experiment_id: null,
      page_token: '',
      order_by: undefined,
      max_results: 50
    });
    const parsed = new URL(url, 'http://x');
    expect([...parsed.searchParams.keys()]).toEqual([
      'filter',
      'notebook',
      'max_results'
    ]);
    expect(parsed.searchParams.get('filter')).toBe(
      "metrics.acc > 0.9 and params.lr = '0.01'"
    );
    expect(parsed.searchParams.get('notebook')).toBe('dir/a b.ipynb');
  });
});

describe('errorFromResponse', () => {
  it("uses the server's JSON message and reason", async () => {
    const error = await errorFromResponse(
      json({ message: "bad token at 'x'", reason: 'Bad Request' }, 400)
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(400);
    expect(error.message).toBe("bad token at 'x'");
    expect(error.reason).toBe('Bad Request');
  });

  it('falls back to the status line for an HTML error page', async () => {
    const error = await errorFromResponse(
      new Response('<html>404</html>', { status: 404, statusText: 'Not Found' })
    );
    expect(error.message).toBe('404 Not Found');
  });
});

describe('NbtrackApi', () => {
  it('reports a missing server extension with the command that fixes it', async () => {
    const { api } = apiWith(
      () => new Response('<html>Not found</html>', { status: 404 })
    );
    const error = await api.status().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerMissingError);
    expect((error as Error).message).toBe(SERVER_MISSING_HELP);
    expect(SERVER_MISSING_HELP).toContain('pip install nbtrack');
    expect(SERVER_MISSING_HELP).toContain(
      'jupyter server extension enable nbtrack'
    );
  });

  it('keeps a 404 of another endpoint as a plain ApiError', async () => {
    const { api } = apiWith(() => json({ message: 'no run abc' }, 404));
    const error = await api.run('abc').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).not.toBeInstanceOf(ServerMissingError);
    expect((error as Error).message).toBe('no run abc');
  });

  it('sends the runs query the contract names', async () => {
    const { api, seen } = apiWith(() =>
      json({ runs: [], next_page_token: null })
    );
    await api.runs({
      notebook: 'a.ipynb',
      experimentId: '3',
      filter: '  params.lr = "0.1"  ',
      pageToken: 'tok'
    });
    const query = seen[0].url.searchParams;
    expect(seen[0].url.pathname).toBe('/lab-base/nbtrack/api/runs');
    expect(query.get('notebook')).toBe('a.ipynb');
    expect(query.get('experiment_id')).toBe('3');
    expect(query.get('filter')).toBe('params.lr = "0.1"');
    expect(query.get('max_results')).toBe('50');
    expect(query.get('page_token')).toBe('tok');
  });

  it('unwraps the envelopes of the detail endpoints', async () => {
    const { api, seen } = apiWith(path => {
      if (path === 'runs/r%201') {
        return json({ run: { run_id: 'r 1' } });
      }
      if (path === 'runs/r%201/timeline') {
        return json({ cells: [{ cell_id: 'c1' }] });
      }
      if (path === 'runs/r%201/artifacts') {
        return json({ files: [{ path: 'model', is_dir: true }] });
      }
      if (path === 'experiments') {
        return json({ experiments: [{ experiment_id: '0' }] });
      }
      return json({ message: `unexpected ${path}` }, 500);
    });
    const detail = await api.run('r 1');
    expect(detail.run_id).toBe('r 1');
    // Maps a server left out are empty, so the views can index them.
    expect([detail.metrics, detail.metrics_detail]).toEqual([{}, {}]);
    expect((await api.timeline('r 1'))[0].cell_id).toBe('c1');
    expect((await api.artifacts('r 1', null, 'model'))[0].is_dir).toBe(true);
    expect((await api.experiments())[0].experiment_id).toBe('0');
    expect(seen[2].url.searchParams.get('path')).toBe('model');
  });

  it('posts JSON with the JSON content type', async () => {
    const { api, seen } = apiWith(() => json({ ok: true }));
    await api.postJson(['runs', 'r1', 'tags'], { key: 'k', value: 'v' });
    expect(seen[0].init.method).toBe('POST');
    expect(seen[0].init.body).toBe('{"key":"k","value":"v"}');
    expect(seen[0].init.headers).toEqual({
      'Content-Type': 'application/json'
    });
  });

  it('builds artifact download URLs under the raw endpoint', () => {
    const { api } = apiWith(() => json({}));
    expect(api.artifactUrl('r1', 'plots/loss.png', 'a.ipynb')).toBe(
      '/lab-base/nbtrack/api/runs/r1/artifacts/raw?path=plots%2Floss.png&notebook=a.ipynb'
    );
  });
});
