// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ExperimentNames } from '../src/experiments';
import { EMPTY_RUNS, LOADING_DELAY_MS, RunsSidebar } from '../src/sidebar';
import { NbtrackApi } from '../src/api';
import { IRunSummary, SERVER_MISSING_HELP } from '../src/tokens';
import { apiWith, json, run } from './helpers';

const EVIL = '<img src=x onerror=alert(1)>';
const EXPERIMENT = {
  experiment_id: '0',
  name: EVIL,
  lifecycle_stage: 'active',
  creation_time: null,
  tags: {}
};

function serverWith(runs: IRunSummary[], storeExists = true) {
  return apiWith((path, query) => {
    if (path === 'status') {
      return json({
        version: '0.1.0',
        store_exists: storeExists,
        tracking_uri: null
      });
    }
    if (path === 'experiments') {
      return json({
        experiments: [EXPERIMENT]
      });
    }
    if (path === 'runs') {
      if ((query.get('filter') ?? '').includes('!!')) {
        return json(
          { message: "unexpected token '!!'", reason: 'Bad Request' },
          400
        );
      }
      return json({ runs, next_page_token: null });
    }
    return json({ message: 'unknown' }, 404);
  });
}

describe('RunsSidebar', () => {
  let sidebar: RunsSidebar | null = null;
  afterEach(() => sidebar?.dispose());

  const rows = (s: RunsSidebar) =>
    Array.from(s.node.querySelectorAll<HTMLElement>('.nbtrack-run-row'));

  it('lists the current notebook runs first with status hooks', async () => {
    const { api, seen } = serverWith([
      run({ run_id: 'other', notebook: 'b.ipynb', status: 'FAILED' }),
      run({
        run_id: 'mine',
        notebook: 'a.ipynb',
        current_notebook: true,
        status: 'RUNNING',
        end_time: null,
        metrics: { acc: 0.91234 }
      })
    ]);
    sidebar = new RunsSidebar({ api, openRun: () => undefined });
    sidebar.setNotebook('a.ipynb');
    await sidebar.refresh();
    expect(sidebar.id).toBe('nbtrack-sidebar');
    expect(rows(sidebar).map(r => [r.dataset.runId, r.dataset.status])).toEqual(
      [
        ['mine', 'running'],
        ['other', 'failed']
      ]
    );
    expect(rows(sidebar)[0].classList.contains('nbtrack-current')).toBe(true);
    expect(rows(sidebar)[0].textContent).toContain('0.9123');
    const runsQuery = seen.find(r => r.url.pathname.endsWith('/runs'));
    expect(runsQuery?.url.searchParams.get('notebook')).toBe('a.ipynb');
  });

  it('tells statuses apart by shape and same-named runs by a short id', async () => {
    const { api } = serverWith([
      run({
        run_id: 'aaaa1111bbbb',
        run_name: 'gd',
        status: 'RUNNING',
        end_time: null
      }),
      run({ run_id: 'cccc2222dddd', run_name: 'gd', status: 'FINISHED' }),
      run({ run_id: 'eeee3333ffff', run_name: 'other', status: 'FAILED' }),
      run({ run_id: 'gggg4444hhhh', run_name: 'cut', status: 'KILLED' })
    ]);
    sidebar = new RunsSidebar({ api, openRun: () => undefined });
    await sidebar.refresh();
    const glyphs = rows(sidebar).map(r => {
      const status = r.querySelector<HTMLElement>('.nbtrack-status');
      return [status?.textContent, status?.getAttribute('aria-label')];
    });
    expect(glyphs).toEqual([
      ['▶', 'running'],
      ['✓', 'finished'],
      ['✕', 'failed'],
      ['■', 'killed']
    ]);
    const ids = rows(sidebar).map(
      r => r.querySelector('.nbtrack-run-shortid')?.textContent ?? null
    );
    expect(ids).toEqual(['aaaa1111', 'cccc2222', null, null]);
    expect(rows(sidebar)[0].title).toContain('id aaaa1111bbbb');
  });

  it('keeps the table and shows the server message for a bad filter', async () => {
    const { api } = serverWith([run({ run_id: 'a' }), run({ run_id: 'b' })]);
    sidebar = new RunsSidebar({ api, openRun: () => undefined });
    await sidebar.refresh();
    expect(rows(sidebar)).toHaveLength(2);
    expect(await sidebar.filter.apply('metrics.acc !! 2')).toBe(false);
    const error = sidebar.node.querySelector<HTMLElement>(
      '.nbtrack-filter-error'
    );
    expect(error?.hidden).toBe(false);
    expect(error?.textContent).toBe("unexpected token '!!'");
    expect(rows(sidebar)).toHaveLength(2);
  });

  it('renders user strings as text', async () => {
    const { api } = serverWith([
      run({ run_id: 'x', run_name: EVIL, metrics: { [EVIL]: 1 } })
    ]);
    sidebar = new RunsSidebar({ api, openRun: () => undefined });
    await sidebar.refresh();
    expect(sidebar.node.querySelector('img')).toBeNull();
    expect(sidebar.node.querySelector('.nbtrack-run-name')?.textContent).toBe(
      EVIL
    );
    expect(sidebar.node.querySelector('option:nth-child(2)')?.textContent).toBe(
      EVIL
    );
  });

  it('names the store in its footer, with the URI on hover', async () => {
    const { api } = apiWith(path =>
      path === 'status'
        ? json({
            version: '0.1.0',
            store_exists: true,
            tracking_uri: 'sqlite:////home/me/lab/.nbtrack/nbtrack.db',
            store_path: '/home/me/lab/.nbtrack',
            store_problem: null
          })
        : path === 'experiments'
          ? json({ experiments: [EXPERIMENT] })
          : json({ runs: [run({ run_id: 'a' })], next_page_token: null })
    );
    sidebar = new RunsSidebar({ api, openRun: () => undefined });
    await sidebar.refresh();
    const footer = sidebar.node.querySelector<HTMLElement>(
      '.nbtrack-store-path'
    );
    expect(footer?.hidden).toBe(false);
    expect(footer?.textContent).toBe('Store: /home/me/lab/.nbtrack');
    expect(footer?.title).toContain(
      'sqlite:////home/me/lab/.nbtrack/nbtrack.db'
    );
    expect(rows(sidebar)).toHaveLength(1);
  });

  it('shows why a store cannot be read instead of runs', async () => {
    const problem = 'store needs upgrading: run `nbtrack upgrade`';
    const { api, seen } = apiWith(path =>
      path === 'status'
        ? json({
            version: '0.1.0',
            store_exists: true,
            tracking_uri: 'sqlite:////old/nbtrack.db',
            store_path: '/old',
            store_problem: problem
          })
        : json({ message: 'not asked' }, 500)
    );
    sidebar = new RunsSidebar({ api, openRun: () => undefined });
    await sidebar.refresh();
    const notice = sidebar.node.querySelector<HTMLElement>('.nbtrack-notice');
    expect(notice?.hidden).toBe(false);
    expect(notice?.textContent).toBe(problem);
    expect(rows(sidebar)).toHaveLength(0);
    expect(seen.some(r => r.url.pathname.endsWith('/runs'))).toBe(false);
    await sidebar.refresh(); // asked again: an upgrade may have fixed it
    expect(seen.filter(r => r.url.pathname.endsWith('/status'))).toHaveLength(
      2
    );
  });

  it('opens a run on click', async () => {
    const opened: string[] = [];
    const { api } = serverWith([run({ run_id: 'a' })]);
    sidebar = new RunsSidebar({ api, openRun: r => opened.push(r.run_id) });
    await sidebar.refresh();
    rows(sidebar)[0].click();
    expect(opened).toEqual(['a']);
  });

  it('names the fix when the server extension is missing', async () => {
    const { api } = apiWith(
      () => new Response('<html>404</html>', { status: 404 })
    );
    sidebar = new RunsSidebar({ api, openRun: () => undefined });
    await sidebar.refresh();
    const notice = sidebar.node.querySelector<HTMLElement>('.nbtrack-notice');
    expect(notice?.hidden).toBe(false);
    expect(notice?.classList.contains('nbtrack-server-missing')).toBe(true);
    expect(notice?.textContent).toBe(SERVER_MISSING_HELP);
    expect(notice?.textContent).not.toContain('404');
  });

  it('explains how to start when there is no store yet', async () => {
    const { api, seen } = serverWith([], false);
    sidebar = new RunsSidebar({ api, openRun: () => undefined });
    await sidebar.refresh();
    expect(
      sidebar.node.querySelector('.nbtrack-notice')?.textContent
    ).toContain('%track start');
    expect(seen.map(r => r.url.pathname)).toEqual([
      '/lab-base/nbtrack/api/status'
    ]);
  });

  it('renders null metrics as NaN and missing ones as a dash', async () => {
    const { api } = serverWith([
      run({ run_id: 'a', metrics: { loss: null, acc: 0.5 } }),
      run({ run_id: 'b', metrics: { loss: 0.25 } })
    ]);
    sidebar = new RunsSidebar({ api, openRun: () => undefined });
    await sidebar.refresh();
    const cells = (r: HTMLElement) =>
      Array.from(r.querySelectorAll('.nbtrack-metric')).map(c => c.textContent);
    const headers = Array.from(
      sidebar.node.querySelectorAll('th.nbtrack-col-metric')
    ).map(th => th.textContent);
    expect(headers).toEqual(['loss', 'acc']);
    expect(cells(rows(sidebar)[0])).toEqual(['NaN', '0.5']);
    expect(cells(rows(sidebar)[1])).toEqual(['0.25', '–']);
    expect(rows(sidebar)[0].title).toContain('loss = NaN\nacc = 0.5');
    expect(
      rows(sidebar)[0].querySelector('.nbtrack-metric')?.getAttribute('title')
    ).toBe('loss = not a finite number (NaN or ±∞)');
  });

  it('truncates names with the full name as tooltip', async () => {
    const long = 'a-very-long-run-name-'.repeat(5);
    const { api } = serverWith([run({ run_id: 'a', run_name: long })]);
    sidebar = new RunsSidebar({ api, openRun: () => undefined });
    await sidebar.refresh();
    const name = sidebar.node.querySelector<HTMLElement>('.nbtrack-run-name');
    expect(name?.textContent).toBe(long);
    expect(name?.classList.contains('nbtrack-col-name')).toBe(true);
    // The tooltip: full name, then what narrow widths hide.
    expect(rows(sidebar)[0].title.split('\n')[0]).toBe(long);
    expect(rows(sidebar)[0].title).toContain('finished, started ');
  });

  it('says how to start a run when the store has none', async () => {
    const { api } = serverWith([]);
    sidebar = new RunsSidebar({ api, openRun: () => undefined });
    await sidebar.refresh();
    const empty = sidebar.node.querySelector('.nbtrack-empty');
    expect(empty?.textContent).toBe(EMPTY_RUNS);
    expect(EMPTY_RUNS).toContain('%load_ext nbtrack');
    expect(EMPTY_RUNS).toContain('%track start');
  });

  it('moves through rows with the keyboard and opens with Enter or Space', async () => {
    const opened: string[] = [];
    const { api } = serverWith([
      run({ run_id: 'a' }),
      run({ run_id: 'b' }),
      run({ run_id: 'c' })
    ]);
    sidebar = new RunsSidebar({ api, openRun: r => opened.push(r.run_id) });
    document.body.appendChild(sidebar.node);
    await sidebar.refresh();
    const all = rows(sidebar);
    expect(all.map(r => r.tabIndex)).toEqual([0, -1, -1]);
    const key = (target: HTMLElement, k: string) =>
      target.dispatchEvent(
        new KeyboardEvent('keydown', { key: k, bubbles: true })
      );
    all[0].focus();
    key(all[0], 'ArrowDown');
    expect(document.activeElement).toBe(all[1]);
    key(all[1], 'End');
    expect(document.activeElement).toBe(all[2]);
    key(all[2], 'ArrowUp');
    key(all[1], 'Enter');
    key(all[1], ' ');
    expect(opened).toEqual(['b', 'b']);
    expect(all.map(r => r.tabIndex)).toEqual([-1, 0, -1]);
    sidebar.node.remove();
  });

  it('gives the focus back to the same run after a redraw', async () => {
    let runs = [run({ run_id: 'a' }), run({ run_id: 'b' })];
    const { api } = apiWith(path =>
      path === 'runs'
        ? json({ runs, next_page_token: null })
        : path === 'status'
          ? json({ version: '0.1.0', store_exists: true, tracking_uri: null })
          : json({ experiments: [] })
    );
    sidebar = new RunsSidebar({ api, openRun: () => undefined });
    document.body.appendChild(sidebar.node);
    await sidebar.refresh();
    rows(sidebar)[1].focus();
    runs = [run({ run_id: 'new' }), ...runs];
    await sidebar.refresh();
    expect(rows(sidebar)).toHaveLength(3);
    expect((document.activeElement as HTMLElement).dataset.runId).toBe('b');
    sidebar.node.remove();
  });

  it('feeds the experiment names it fetched to the shared cache', async () => {
    const { api, seen } = serverWith([run()]);
    const names = new ExperimentNames(api);
    sidebar = new RunsSidebar({
      api,
      experiments: names,
      openRun: () => undefined
    });
    await sidebar.refresh();
    const before = seen.length;
    expect(await names.name('0', null)).toBe(EVIL);
    expect(seen).toHaveLength(before);
  });

  it('shows "Loading…" only for a slow refresh, and never for polls', async () => {
    vi.useFakeTimers();
    try {
      // GET runs waits for the test to answer it.
      const gates: (() => void)[] = [];
      const api = new NbtrackApi('/', url => {
        const path = new URL(url, 'http://h').pathname;
        const body = path.endsWith('/status')
          ? { version: '0.1.0', store_exists: true, tracking_uri: null }
          : path.endsWith('/runs')
            ? { runs: [], next_page_token: null }
            : { experiments: [] };
        return path.endsWith('/runs')
          ? new Promise(resolve => gates.push(() => resolve(json(body))))
          : Promise.resolve(json(body));
      });
      const answer = async () => {
        await vi.waitFor(() => expect(gates).toHaveLength(1));
        gates.pop()!();
      };
      sidebar = new RunsSidebar({ api, openRun: () => undefined });
      const loading =
        sidebar.node.querySelector<HTMLElement>('.nbtrack-loading')!;
      const busy = sidebar.refresh();
      await vi.advanceTimersByTimeAsync(LOADING_DELAY_MS - 1);
      expect(loading.hidden).toBe(true);
      await vi.advanceTimersByTimeAsync(1);
      expect(loading.hidden).toBe(false);
      expect(sidebar.node.getAttribute('aria-busy')).toBe('true');
      await answer();
      await busy;
      expect(loading.hidden).toBe(true);
      expect(sidebar.node.hasAttribute('aria-busy')).toBe(false);

      const poll = sidebar.refresh(false);
      await vi.advanceTimersByTimeAsync(LOADING_DELAY_MS * 2);
      expect(loading.hidden).toBe(true);
      await answer();
      await poll;
    } finally {
      vi.useRealTimers();
    }
  });

  it('refreshes again when asked while a refresh is in flight', async () => {
    const asked: (string | null)[] = [];
    const { api } = apiWith((path, query) => {
      if (path === 'runs') {
        asked.push(query.get('experiment_id'));
        return json({ runs: [], next_page_token: null });
      }
      return path === 'status'
        ? json({ version: '0.1.0', store_exists: true, tracking_uri: null })
        : json({ experiments: [{ ...EXPERIMENT, experiment_id: '5' }] });
    });
    sidebar = new RunsSidebar({ api, openRun: () => undefined });
    await sidebar.refresh();
    const poll = sidebar.refresh(false);
    const select = sidebar.node.querySelector<HTMLSelectElement>(
      '.nbtrack-experiment'
    )!;
    select.value = '5';
    select.dispatchEvent(new Event('change'));
    await poll;
    // The poll may or may not have read the old choice; the rerun reads the new one.
    expect(asked).toHaveLength(3);
    expect(asked.at(-1)).toBe('5');
  });
});
