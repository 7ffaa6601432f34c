"""How fast ``nbtrack import-mlflow`` copies metric histories out of an MLflow store.

Usage::

    python bench/bench_mlflow_import.py            # 100 runs x 10 metrics x 10,000 steps
    python bench/bench_mlflow_import.py --quick    # 10 runs x 10 metrics x 1,000 steps
    python bench/bench_mlflow_import.py --runs 20 --steps 5000
    python bench/bench_mlflow_import.py --sql-build --skip-read   # the full size, in reach

The source is an MLflow SQLite store built with MLflow's own ``log_batch``
(1000 points per call, its limit) and cached under ``bench/results/``
(git-ignored) by size, since building 10^7 points through MLflow takes long
(about 1,000 points/s on a loaded 2-core machine: hours). ``--sql-build``
creates the experiment and runs with MLflow's client, then writes the points
straight into MLflow's ``metrics`` and ``latest_metrics`` tables (the rows
``log_batch`` writes, checked afterwards through MLflow's client), in about a
minute. ``--skip-read`` leaves out the read-only pass.
Then, each in a fresh nbtrack store in a temp directory:

* ``read``: MLflow's client alone reads every run page and every metric
  history (``search_runs`` + ``get_metric_history``), the floor any importer
  that uses MLflow's client pays;
* ``import``: :func:`nbtrack.mlflow_io.import_mlflow`, everything included
  (reading, checks, writing, the final flush).

Wall time and points per second of each; the difference is nbtrack's share.
Results go to ``bench/results/mlflow_import.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

RESULTS = Path(__file__).resolve().parent / "results"


def build_source(path: Path, runs: int, metrics: int, steps: int) -> None:
    """An MLflow SQLite store of ``runs`` runs, each ``metrics`` histories of ``steps`` points."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    client = MlflowClient(f"sqlite:///{partial}")
    experiment = client.create_experiment("bench")
    started = time.perf_counter()
    for r in range(runs):
        run = client.create_run(experiment, start_time=1_700_000_000_000 + r, run_name=f"r{r}")
        run_id = run.info.run_id
        batch: list[Metric] = []
        for m in range(metrics):
            for s in range(steps):
                batch.append(Metric(f"m{m}", (s * 7 + m) % 1000 / 997, 1_700_000_000_000 + s, s))
                if len(batch) == 1000:
                    client.log_batch(run_id, metrics=batch)
                    batch = []
        if batch:
            client.log_batch(run_id, metrics=batch)
        client.set_terminated(run_id, "FINISHED", end_time=1_700_000_100_000 + r)
        done = r + 1
        rate = done * metrics * steps / (time.perf_counter() - started)
        print(f"  built run {done}/{runs} ({rate:,.0f} points/s through MLflow)", flush=True)
    partial.rename(path)


def build_source_sql(path: Path, runs: int, metrics: int, steps: int) -> None:
    """The same store as :func:`build_source`, its points inserted with SQL.

    Runs are created and ended by MLflow's client; the points go into MLflow's
    tables as ``log_batch`` writes them (``is_nan`` 0; ``latest_metrics``
    holds each history's last step). One history is then read back through
    MLflow's client to check that it sees them.
    """
    import sqlite3

    from mlflow import MlflowClient

    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    client = MlflowClient(f"sqlite:///{partial}")
    experiment = client.create_experiment("bench")
    run_ids = []
    for r in range(runs):
        run = client.create_run(experiment, start_time=1_700_000_000_000 + r, run_name=f"r{r}")
        client.set_terminated(run.info.run_id, "FINISHED", end_time=1_700_000_100_000 + r)
        run_ids.append(run.info.run_id)
    db = sqlite3.connect(partial)
    db.execute("PRAGMA synchronous=OFF")
    for done, run_id in enumerate(run_ids, 1):
        with db:
            for m in range(metrics):
                db.executemany(
                    "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                    "VALUES (?, ?, ?, ?, ?, 0)",
                    (
                        (f"m{m}", (s * 7 + m) % 1000 / 997, 1_700_000_000_000 + s, run_id, s)
                        for s in range(steps)
                    ),
                )
                last = steps - 1
                db.execute(
                    "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                    "VALUES (?, ?, ?, ?, 0, ?)",
                    (f"m{m}", (last * 7 + m) % 1000 / 997, 1_700_000_000_000 + last, last, run_id),
                )
        print(f"  built run {done}/{runs}", flush=True)
    db.close()
    history = client.get_metric_history(run_ids[-1], f"m{metrics - 1}")
    assert [p.step for p in history] == list(range(steps)), "MLflow does not see the points"
    assert client.get_run(run_ids[0]).data.metrics["m0"] == (steps - 1) * 7 % 1000 / 997
    partial.rename(path)


def read_floor(uri: str) -> tuple[float, int]:
    """Seconds for MLflow's client to read every history, and the points read."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(uri)
    started = time.perf_counter()
    points = 0
    experiment = client.get_experiment_by_name("bench")
    token = None
    while True:
        page = client.search_runs(
            [experiment.experiment_id],
            run_view_type=ViewType.ALL,
            max_results=1000,
            page_token=token,
        )
        for run in page:
            for key in run.data.metrics:
                points += len(client.get_metric_history(run.info.run_id, key))
        token = page.token
        if not token:
            break
    return time.perf_counter() - started, points


def timed_import(uri: str) -> tuple[float, int]:
    """Seconds for a whole import into a fresh nbtrack store, and the points it copied."""
    from nbtrack.mlflow_io import import_mlflow
    from nbtrack.store import close_all

    with tempfile.TemporaryDirectory(prefix="nbtrack-bench-") as tmp:
        started = time.perf_counter()
        report = import_mlflow(uri, tracking_uri=str(Path(tmp) / ".nbtrack"))
        seconds = time.perf_counter() - started
        close_all()
    return seconds, report.metric_points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="10 runs x 10 metrics x 1,000 steps")
    parser.add_argument(
        "--sql-build", action="store_true", help="insert the source's points with SQL (fast)"
    )
    parser.add_argument("--skip-read", action="store_true", help="time the import only")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.metrics, args.steps = 10, 10, 1000
    RESULTS.mkdir(exist_ok=True)
    how = "-sql" if args.sql_build else ""
    source = RESULTS / f"mlflow-source-{args.runs}x{args.metrics}x{args.steps}{how}.db"
    total = args.runs * args.metrics * args.steps
    if not source.exists():
        print(f"building the MLflow source store ({total:,} points) at {source}", flush=True)
        started = time.perf_counter()
        build = build_source_sql if args.sql_build else build_source
        build(source, args.runs, args.metrics, args.steps)
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    uri = f"sqlite:///{source}"
    read_s, read_points = (None, total) if args.skip_read else read_floor(uri)
    if read_s is not None:
        rate = read_points / read_s
        print(f"read   (MLflow client only): {read_s:8.1f} s  {rate:12,.0f} points/s")
    load_before = os.getloadavg()
    import_s, imported = timed_import(uri)
    print(f"import (nbtrack, all of it): {import_s:8.1f} s  {imported / import_s:12,.0f} points/s")
    if imported != total or read_points != total:
        print(f"expected {total} points, read {read_points}, imported {imported}")
        return 1
    result = {
        "size": {"runs": args.runs, "metrics": args.metrics, "steps": args.steps, "points": total},
        "source_built_with": "sql" if args.sql_build else "mlflow log_batch",
        "read_seconds": read_s,
        "read_points_per_s": read_points / read_s if read_s else None,
        "load_average_before_import": load_before,
        "import_seconds": import_s,
        "import_points_per_s": imported / import_s,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "load_average": os.getloadavg(),
    }
    (RESULTS / "mlflow_import.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
