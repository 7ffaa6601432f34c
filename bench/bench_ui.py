"""In-notebook panels at scale: the run table on 10,000 runs x 50 columns,
and a chart of a 1,000,000-point history.

Usage::

    python bench/bench_ui.py            # 10,000 runs, 1,000,000 points
    python bench/bench_ui.py --quick    # 1,000 runs, 100,000 points (a smoke run)

The store is built in a fresh temp directory before any clock starts: each run
has 20 params, 20 metrics and 10 tags (50 columns besides the attributes).
Timed, each as the median of 5 tries in this process:

* ``open table``: ``nbtrack.ui.runs()`` (count + the first page of 50) and
  building its widgets (the HTML of the page), goal <= 1 s;
* ``sort+page``: sort by a metric, then the next page;
* ``filter``: a metric + param filter;
* ``chart 1M``: reading the history, downsampling, building the Vega-Lite v5
  spec and serialising it to JSON (what reaches the browser); goal <= 1 s and
  a spec <= 1 MB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbtrack
from nbtrack.store import close_all


def _median(fn: Callable[[], object], tries: int = 5) -> float:
    times = []
    for _ in range(tries):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _fill(client: nbtrack.TrackingClient, n_runs: int) -> str:
    exp = client.create_experiment("bench")
    for i in range(n_runs):
        run_id = client.create_run(exp, run_name=f"run-{i}").info.run_id
        client.log_batch(
            run_id,
            params=[(f"p{k}", str((i * 7 + k) % 97)) for k in range(20)],
            tags=[(f"t{k}", f"v{(i + k) % 5}") for k in range(10)],
            metrics=[(f"m{k}", float((i * 13 + k) % 101), None, 0) for k in range(20)],
        )
        client.set_terminated(run_id)
    client.flush()
    return exp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_runs = 1_000 if args.quick else 10_000
    n_points = 100_000 if args.quick else 1_000_000
    from nbtrack import ui

    with tempfile.TemporaryDirectory() as tmp:
        client = nbtrack.TrackingClient(Path(tmp) / ".nbtrack")
        t0 = time.perf_counter()
        _fill(client, n_runs)
        print(f"setup: {n_runs} runs x 50 columns in {time.perf_counter() - t0:.1f} s")

        def open_table() -> None:
            table = ui.runs(client=client)
            assert table.page.total == n_runs
            _ = table.widget  # the synced HTML of the first page

        opened = _median(open_table)
        table = ui.runs(client=client)
        sort_page = _median(lambda: (table.sort_by("metrics.m3"), table.next_page()))
        filtered = _median(lambda: table.apply_filter("metrics.m1 > 50 AND params.p2 = '3'"))
        cols = len(table.columns())
        print(
            f"open table ({n_runs} runs, {cols} columns): {opened * 1000:.0f} ms "
            f"(goal <= 1000 ms: {'PASS' if opened <= 1 else 'MISS'})"
        )
        print(f"sort by metric + next page: {sort_page * 1000:.0f} ms")
        print(f"filter (metric AND param): {filtered * 1000:.0f} ms")

        run_id = client.create_run(client.get_experiment_by_name("bench").experiment_id)
        rid = run_id.info.run_id
        t0 = time.perf_counter()
        chunk = 100_000
        for start in range(0, n_points, chunk):
            client.log_batch(
                rid,
                metrics=[
                    ("loss", 1.0 / (s + 1) + (s % 1000 == 0), None, s)
                    for s in range(start, min(n_points, start + chunk))
                ],
            )
        client.flush()
        print(f"setup: {n_points:,} points in {time.perf_counter() - t0:.1f} s")
        sizes: list[int] = []

        def chart() -> None:
            spec = ui.metrics(rid, "loss", client=client).to_dict()
            sizes.append(len(json.dumps(spec)))

        charted = _median(chart)
        smooth = _median(lambda: ui.metrics(rid, "loss", smoothing=0.9, client=client).to_dict())
        print(
            f"chart {n_points:,} points: {charted * 1000:.0f} ms, spec {sizes[-1] / 1e6:.3f} MB "
            f"(goal <= 1000 ms and <= 1 MB: "
            f"{'PASS' if charted <= 1 and sizes[-1] <= 1e6 else 'MISS'})"
        )
        print(f"chart {n_points:,} points with EMA smoothing: {smooth * 1000:.0f} ms")
        close_all()


if __name__ == "__main__":
    main()
