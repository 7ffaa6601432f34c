"""The Experiments view in a real browser: 10,000 runs open, and a chart grid of
20 metrics x 10 runs x 100,000 points.

Usage::

    python bench/bench_experiments_view.py                   # builds the store (~5 min)
    python bench/bench_experiments_view.py --store DIR       # reuses (or builds) DIR/.nbtrack
    python bench/bench_experiments_view.py --tries 5

Needs what the browser tests need: Debian chromium at /usr/bin/chromium, Playwright,
JupyterLab and the built extension (``pip install -e .``; with ``JUPYTER_PATH`` set,
the extension found there first).

The store: 10,000 finished runs in experiment "bench" (10 params and 5 metrics each),
and 10 runs "long-0".."long-9" with 20 metrics of 100,000 steps each (20,000,000
points). One ``jupyter lab`` (token auth, the nbtrack server extension) serves it;
headless chromium times, in the page (``performance.now()``):

* ``open``: from running the command ``nbtrack:open-experiments`` until the table
  holds every run (all pages of ``GET runs`` fetched and the first rows drawn);
  the view is closed and opened again for each try;
* ``grid``: from asking the chart grid for the 10 long runs until all 20 charts are
  drawn (20 ``GET histories`` requests in flight at once, each sampled server-side to
  400 points per series). The first try reads the store cold (after the server
  started; the OS page cache may still hold the file), the others again in full.

Prints each try, the median, the goal (open <= 1 s, grid <= 2 s) and the load
average (the machine may be shared). Writes ``bench/results/experiments_view.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

RUNS = 10_000
LONG_RUNS = 10
LONG_METRICS = 20
LONG_STEPS = 100_000
GOALS = {"open": 1.0, "grid": 2.0}

FILL = """
import sys
import nbtrack

client = nbtrack.TrackingClient(sys.argv[1])
exp = client.create_experiment("bench")
for i in range(%(runs)d):
    run_id = client.create_run(exp, run_name=f"run-{i}").info.run_id
    client.log_batch(
        run_id,
        metrics=[(f"m{k}", (i * 7 + k) %% 101 / 100, 1_000 + i, 0) for k in range(5)],
        params=[(f"p{k}", str((i + k) %% 13)) for k in range(10)],
    )
    client.set_terminated(run_id)
for r in range(%(long)d):
    run_id = client.create_run(exp, run_name=f"long-{r}").info.run_id
    for k in range(%(metrics)d):
        for start in range(0, %(steps)d, 10_000):
            client.log_batch(run_id, metrics=[
                (f"curve{k}", 1.0 / (1 + j * 0.001 * (r + 1)) + (j %% 97) * 1e-3, 1_000_000 + j, j)
                for j in range(start, start + 10_000)
            ])
    client.set_terminated(run_id)
client.flush()
"""

OPEN = """async (n) => {
    const app = window.jupyterapp;
    const old = Array.from(app.shell.widgets('main')).find(w => w.id === 'nbtrack-experiments');
    if (old) { old.dispose(); }
    const t0 = performance.now();
    await app.commands.execute('nbtrack:open-experiments');
    for (;;) {
        const grid = document.querySelector('.nbtrack-experiments-view .nbtrack-xp-body');
        if (grid && grid.getAttribute('aria-rowcount') === String(n)
            && grid.querySelector('.nbtrack-xp-run')) {
            return (performance.now() - t0) / 1000;
        }
        const notice = document.querySelector('.nbtrack-experiments-view .nbtrack-notice-error');
        if (notice && !notice.hidden) { throw new Error(notice.textContent); }
        await new Promise(r => setTimeout(r, 5));
    }
}"""

GRID = """async () => {
    const app = window.jupyterapp;
    const view = Array.from(app.shell.widgets('main'))
        .find(w => w.id === 'nbtrack-experiments').content;
    const long = view.table.displayedRuns.filter(r => r.run_name.startsWith('long-'));
    view.table.select(long.map(r => r.run_id));
    delete view.charts.node.dataset.loadMs;
    const t0 = performance.now();
    view.showTab('charts', false);  // loads the grid of the new selection
    while (view.charts.node.dataset.loadMs === undefined) {
        await new Promise(r => setTimeout(r, 5));
    }
    const figures = document.querySelectorAll('.nbtrack-xp-chart[data-points]');
    let points = 0;
    figures.forEach(f => { points += Number(f.dataset.points); });
    const seconds = (performance.now() - t0) / 1000;
    view.showTab('runs', false);
    return [seconds, figures.length, points, long.length];
}"""


def build_store(root: Path) -> float:
    """Fill ``root/.nbtrack`` (in a fresh process); returns the seconds it took."""
    start = time.perf_counter()
    code = FILL % {"runs": RUNS, "long": LONG_RUNS, "metrics": LONG_METRICS, "steps": LONG_STEPS}
    subprocess.run([sys.executable, "-c", code, str(root / ".nbtrack")], check=True)
    return time.perf_counter() - start


def server_only(store: Path, tries: int) -> None:
    """What the server does for ``open`` and ``grid``, timed in-process (no browser).

    ``open``: every page of 1,000 runs as ``GET runs`` builds it, JSON included;
    ``grid``: the 20 ``GET histories`` answers (one per metric, 10 runs each, 400
    points per series), on 4 threads as the server's readers run them.
    """
    from concurrent.futures import ThreadPoolExecutor

    from nbtrack.server import _queries as queries
    from nbtrack.server import _view as view
    from nbtrack.store import get_store, locate
    from nbtrack.store.queries import SeriesCache

    db = get_store(locate.normalize_tracking_uri(store / ".nbtrack"), readonly=True)
    cache = SeriesCache(4_000_000, 2.0)

    def open_all() -> int:
        offset, count = 0, 0
        while True:
            query = queries.RunQuery(None, None, [], "active", 1000, offset, ())
            runs, _, more = queries.search_runs(db, query)
            json.dumps([queries.summary_json(r, None, False) for r in runs])
            count += len(runs)
            offset += len(runs)
            if not more:
                return count

    long_ids = [r.info.run_id for r in db.search_runs(None, "attributes.run_name LIKE 'long-%'")]
    keys = [f"curve{k}" for k in range(LONG_METRICS)]

    def one(key: str) -> int:
        found = view.histories(db, cache, view.HistoriesQuery(long_ids, [key], 400))
        json.dumps(found)
        return sum(len(h["steps"]) for h in found)

    for _ in range(tries):
        start = time.perf_counter()
        count = open_all()
        print(f"server open: {count:,} runs in {time.perf_counter() - start:.3f} s", flush=True)
    for _ in range(tries):
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            points = sum(pool.map(one, keys))
        print(f"server grid: {len(long_ids)} runs x {len(keys)} metrics, {points:,} points "
              f"in {time.perf_counter() - start:.3f} s", flush=True)  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, help="a directory whose .nbtrack to use or build")
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument(
        "--server-only", action="store_true", help="time the server's work in-process, no browser"
    )
    args = parser.parse_args()
    if args.server_only:
        store = args.store or Path(tempfile.mkdtemp(prefix="nbtrack-bench-xp-"))
        if not (store / ".nbtrack" / "nbtrack.db").exists():
            print(f"building the store in {store} ...", flush=True)
            print(f"  built in {build_store(store):.0f} s", flush=True)
        server_only(store, args.tries)
        return

    from _jupyter_browser import dismiss_news, open_browser, start_lab

    work = Path(tempfile.mkdtemp(prefix="nbtrack-bench-xp-"))
    store = args.store or work / "store"
    store.mkdir(parents=True, exist_ok=True)
    populate = None
    if not (store / ".nbtrack" / "nbtrack.db").exists():
        print(f"building the store in {store} ...", flush=True)
        populate = build_store(store)
        print(f"  built in {populate:.0f} s", flush=True)
    root = work / "lab"
    root.mkdir()
    load_start = os.getloadavg()[0]
    env = {
        "NBTRACK_TRACKING_URI": str(store / ".nbtrack"),
        "JUPYTERLAB_SETTINGS_DIR": str(work / "settings"),
    }
    os.environ.update(env)
    results: dict[str, list[float]] = {"open": [], "grid": []}
    grid_shape: list[Any] = []
    with start_lab(root, env=env) as lab, open_browser(1500, 950) as browser:
        page = browser.page
        page.goto(f"{lab.url}/lab?token={lab.token}")
        page.wait_for_function("() => !!window.jupyterapp", polling=250)
        page.locator("#nbtrack-sidebar").wait_for(state="attached")
        dismiss_news(page)
        total = RUNS + LONG_RUNS
        for i in range(args.tries):
            seconds = float(page.evaluate(OPEN, total))
            results["open"].append(seconds)
            print(f"open {total:,} runs, try {i + 1}: {seconds:.3f} s", flush=True)
        for i in range(args.tries):
            seconds, charts, points, runs = page.evaluate(GRID)
            grid_shape = [charts, points, runs]
            results["grid"].append(float(seconds))
            print(
                f"chart grid, try {i + 1}: {seconds:.3f} s ({charts} charts, {runs} runs, "
                f"{points:,} points drawn)",
                flush=True,
            )
        if browser.external:
            raise SystemExit(f"requests left 127.0.0.1: {browser.external}")
    load_end = os.getloadavg()[0]
    summary = {}
    for name, tries in results.items():
        median = statistics.median(tries)
        verdict = "PASS" if median <= GOALS[name] else "MISS"
        summary[name] = {"tries": tries, "median": median, "goal": GOALS[name], "verdict": verdict}
        print(f"{name}: median {median:.3f} s (first {tries[0]:.3f} s), goal <= {GOALS[name]} s: "
              f"{verdict}")  # fmt: skip
    print(f"load average {load_start:.2f} at the start, {load_end:.2f} at the end "
          f"({os.cpu_count()} cores)")  # fmt: skip
    out = REPO / "bench" / "results" / "experiments_view.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "summary": summary,
                "grid": {
                    "charts": grid_shape[0],
                    "points_drawn": grid_shape[1],
                    "runs": grid_shape[2],
                },
                "store": {
                    "runs": RUNS + LONG_RUNS,
                    "long_points": LONG_RUNS * LONG_METRICS * LONG_STEPS,
                    "populate_s": populate,
                },
                "load_average": [load_start, load_end],
                "cpus": os.cpu_count(),
                "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
