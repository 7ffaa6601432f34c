"""Measurements run by ``bench_tracking.py``, each in a fresh Python process.

Run as ``python bench/_cases.py CASE PARAMS_JSON`` (the orchestrator does this);
the case's result is printed as JSON on a line starting with :data:`MARKER`.
Every case works in the directory it is given (its temp dir, also the current
directory). nbtrack and MLflow are imported inside the cases, never together,
and their setup (import, store creation, run creation) is left out of the
timed sections.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MARKER = "@@BENCH_RESULT "
#: A fixed start for logged timestamps (ms): 2026-01-01 UTC, one ms more per step.
BASE_TS = 1_767_225_600_000
#: MLflow refuses more than 1000 metrics (or 1000 entities) in one log_batch.
MLFLOW_BATCH_LIMIT = 1000
#: MLflow refuses more than 100 params in one log_batch.
MLFLOW_PARAM_LIMIT = 100
#: The search filter: m0 > 0.5 in half of the runs, p0 = 'x' in a fifth, both in a tenth.
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p0 = 'x'"
#: Runs populated first, in a throwaway MLflow store, to project MLflow's populate time.
MLFLOW_PROBE_RUNS = 5

Params = dict[str, Any]
Result = dict[str, Any]
# (key index, step, timestamp ms, value)
Point = tuple[int, int, int, float]


# -- shared helpers ----------------------------------------------------------------------


def nbtrack_uri(p: Params) -> str:
    """The nbtrack store of a case: ``nb_uri`` if given (PostgreSQL), else a file in its workdir."""
    return str(p.get("nb_uri") or f"sqlite:///{Path(p['workdir']) / 'nbtrack.db'}")


def mlflow_uri(p: Params) -> str:
    """MLflow's store of a case: ``ml_uri`` if given (PostgreSQL), else a file in its workdir."""
    return str(p.get("ml_uri") or f"sqlite:///{Path(p['workdir']) / 'mlflow.db'}")


def store_usage(p: Params, side: str) -> Result:
    """Disk use of a case's store: SQLite file figures, or PostgreSQL relation sizes."""
    uri = p.get(f"{side}_uri")
    if uri:
        return pg_usage(uri)
    return disk_usage(Path(p["workdir"]) / ("nbtrack.db" if side == "nb" else "mlflow.db"))


def pg_usage(uri: str, table: str = "metrics") -> Result:
    """``pg_database_size`` and ``pg_total_relation_size(table)`` (with indexes and TOAST)."""
    import sqlalchemy as sa

    engine = sa.create_engine(uri)
    try:
        with engine.connect() as conn:
            database = conn.exec_driver_sql("SELECT pg_database_size(current_database())")
            file_bytes = database.scalar()
            table_bytes = conn.exec_driver_sql(
                "SELECT pg_total_relation_size(%(t)s::regclass)", {"t": table}
            ).scalar()
    finally:
        engine.dispose()
    return {"file_bytes": file_bytes, "wal_bytes": 0, "table_bytes": table_bytes}


def make_points(count: int, keys: int, seed: int = 1) -> list[Point]:
    """``count`` points over ``keys`` metrics, step-major (every key at step 0, then 1, ...)."""
    rng = random.Random(seed)
    return [(i % keys, i // keys, BASE_TS + i // keys, rng.random()) for i in range(count)]


def chunked(items: list[Any], size: int) -> list[list[Any]]:
    """``items`` cut into lists of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def checkpoint(db: Path) -> None:
    """Move everything in the WAL into the database file and truncate the WAL."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def disk_usage(db: Path, table: str = "metrics") -> Result:
    """Database file size, and pages of ``table`` plus its indexes (dbstat), after a checkpoint."""
    checkpoint(db)
    conn = sqlite3.connect(db)
    try:
        try:
            table_bytes = conn.execute(
                "SELECT SUM(pgsize) FROM dbstat WHERE name IN "
                "(SELECT name FROM sqlite_master WHERE tbl_name = ?)",
                (table,),
            ).fetchone()[0]
        except sqlite3.OperationalError:  # SQLite built without dbstat
            table_bytes = None
    finally:
        conn.close()
    wal = db.with_name(db.name + "-wal")
    return {
        "file_bytes": db.stat().st_size,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "table_bytes": table_bytes,
    }


def timed_calls(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Wall times of ``repeats`` calls of ``fn`` and the last result."""
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def call_stats(times: list[float]) -> Result:
    """The first call, and the median of the calls after it (or of the only one)."""
    later = times[1:] or times
    return {"first_s": times[0], "median_s": statistics.median(later), "times_s": times}


def run_params(i: int, count: int) -> list[tuple[str, str]]:
    """The params of run ``i``: p0 is 'x' in every fifth run."""
    return [("p0", "x" if i % 5 == 0 else "y")] + [(f"p{j}", f"v{i}-{j}") for j in range(1, count)]


def run_metrics(i: int, keys: int, steps: int, rng: random.Random) -> list[Point]:
    """The metric points of run ``i``; the last m0 is above 0.5 in half of the runs."""
    points = []
    for step in range(steps):
        for k in range(keys):
            value = rng.random()
            if k == 0 and step == steps - 1:
                value = (i % 10) / 10 + 0.05
            points.append((k, step, BASE_TS + step, value))
    return points


# -- 1. log_metric in a loop (fluent API) ----------------------------------------------------


def nb_fluent(p: Params) -> Result:
    """nbtrack: ``log_metric`` in a loop inside ``start_run``, timed until ``flush`` returns."""
    import nbtrack

    n = p["calls"]
    nbtrack.set_tracking_uri(nbtrack_uri(p))
    with nbtrack.start_run() as run:
        nbtrack.log_metric("warmup", 0.0, step=0)  # same warm-up as for MLflow
        nbtrack.flush()
        start = time.perf_counter()
        for i in range(n):
            nbtrack.log_metric("loss", 1.0 / (i + 1), step=i)
        enqueued = time.perf_counter()
        nbtrack.flush()
        done = time.perf_counter()
    stored = len(nbtrack.get_metric_history(run.info.run_id, "loss"))
    return {"calls": n, "seconds": done - start, "enqueue_s": enqueued - start, "stored": stored}


def ml_fluent(p: Params) -> Result:
    """MLflow: ``log_metric`` in a loop inside ``start_run`` (synchronous, its default)."""
    import mlflow

    n = p["calls"]
    mlflow.set_tracking_uri(mlflow_uri(p))
    with mlflow.start_run() as run:
        mlflow.log_metric("warmup", 0.0, step=0)
        start = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        done = time.perf_counter()
    stored = len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss"))
    return {"calls": n, "seconds": done - start, "stored": stored}


# -- 2. batch throughput (and 5. bytes per point) ----------------------------------------------


def raw_batch(p: Params) -> Result:
    """Raw ``sqlite3.executemany`` into nbtrack's ``metrics`` DDL, one transaction per batch."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    from nbtrack.store import schema

    db = Path(p["workdir"]) / "raw.db"
    ddl = str(sa.schema.CreateTable(schema.metrics).compile(dialect=sqlite_dialect.dialect()))
    # The table's own column order; a column other than these five would get NULL.
    columns = [c.name for c in schema.metrics.columns]
    known = ("run_pk", "key_id", "step", "timestamp", "value")
    where = [known.index(c) if c in known else None for c in columns]
    rows = [
        tuple(None if i is None else values[i] for i in where)
        for values in (
            (1, k + 1, step, ts, value)
            for k, step, ts, value in make_points(p["points"], p["keys"])
        )
    ]
    batches = chunked(rows, p["batch"])
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(ddl)
    sql = f"INSERT INTO metrics ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    start = time.perf_counter()
    for batch in batches:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, batch)
        conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    stored = conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    conn.close()
    return {
        "points": len(rows),
        "batch": p["batch"],
        "seconds": seconds,
        "stored": stored,
        "ddl": ddl.strip(),
        **disk_usage(db),
    }


def nb_batch(p: Params) -> Result:
    """nbtrack: ``TrackingClient.log_batch`` of ``(key, value, timestamp, step)`` tuples."""
    from nbtrack import TrackingClient
    from nbtrack.store import close_all

    client = TrackingClient(nbtrack_uri(p))
    run_id = client.create_run("0", run_name="batch").info.run_id
    client.flush()
    names = [f"m{k}" for k in range(p["keys"])]
    points = [
        (names[k], value, ts, step) for k, step, ts, value in make_points(p["points"], p["keys"])
    ]
    batches = chunked(points, p["batch"])
    start = time.perf_counter()
    for batch in batches:
        client.log_batch(run_id, metrics=batch)
    enqueued = time.perf_counter()
    client.flush()
    done = time.perf_counter()
    stored = len(client.get_metric_history(run_id, "m0")) * p["keys"]
    client.set_terminated(run_id)
    close_all()
    return {
        "points": len(points),
        "batch": p["batch"],
        "seconds": done - start,
        "enqueue_s": enqueued - start,
        "stored": stored,
        **store_usage(p, "nb"),
    }


def ml_batch(p: Params) -> Result:
    """MLflow: ``MlflowClient.log_batch`` of ``Metric`` entities, 1000 per call."""
    import mlflow
    from mlflow.entities import Metric

    client = mlflow.MlflowClient(tracking_uri=mlflow_uri(p))
    run_id = client.create_run("0").info.run_id
    before = store_usage(p, "ml")
    names = [f"m{k}" for k in range(p["keys"])]
    metrics = [
        Metric(names[k], value, ts, step)
        for k, step, ts, value in make_points(p["points"], p["keys"])
    ]
    batches = chunked(metrics, MLFLOW_BATCH_LIMIT)
    start = time.perf_counter()
    for batch in batches:
        client.log_batch(run_id, metrics=batch)
    seconds = time.perf_counter() - start
    stored = len(client.get_metric_history(run_id, "m0")) * p["keys"]
    client.set_terminated(run_id)
    after = store_usage(p, "ml")
    return {
        "points": len(metrics),
        "batch": MLFLOW_BATCH_LIMIT,
        "seconds": seconds,
        "stored": stored,
        "file_bytes_before": before["file_bytes"],
        "table_bytes_before": before["table_bytes"],
        **after,
    }


# -- 3. search_runs to pandas ----------------------------------------------------------------


def nb_search_populate(p: Params) -> Result:
    """nbtrack: create the runs with params and metric histories (one log_batch per run)."""
    from nbtrack import TrackingClient
    from nbtrack.store import close_all

    client = TrackingClient(nbtrack_uri(p))
    client.get_experiment("0")  # open the store
    names = [f"m{k}" for k in range(p["metrics"])]
    rng = random.Random(3)
    start = time.perf_counter()
    for i in range(p["runs"]):
        run_id = client.create_run("0", run_name=f"run-{i}").info.run_id
        points = run_metrics(i, p["metrics"], p["steps"], rng)
        client.log_batch(
            run_id,
            metrics=[(names[k], value, ts, step) for k, step, ts, value in points],
            params=run_params(i, p["params"]),
        )
        client.set_terminated(run_id)
    client.flush()
    seconds = time.perf_counter() - start
    close_all()
    return {"runs": p["runs"], "steps": p["steps"], "seconds": seconds}


def _ml_populate(uri: str, p: Params, runs: int, steps: int) -> float:
    """Create ``runs`` MLflow runs the same way as nbtrack's; returns the seconds it took."""
    import mlflow
    from mlflow.entities import Metric, Param

    client = mlflow.MlflowClient(tracking_uri=uri)
    client.get_experiment("0")  # create / open the store
    names = [f"m{k}" for k in range(p["metrics"])]
    rng = random.Random(3)
    start = time.perf_counter()
    for i in range(runs):
        run_id = client.create_run("0", run_name=f"run-{i}").info.run_id
        params = [Param(k, v) for k, v in run_params(i, p["params"])]
        for chunk in chunked(params, MLFLOW_PARAM_LIMIT):
            client.log_batch(run_id, params=chunk)
        metrics = [
            Metric(names[k], value, ts, step)
            for k, step, ts, value in run_metrics(i, p["metrics"], steps, rng)
        ]
        for chunk in chunked(metrics, MLFLOW_BATCH_LIMIT):
            client.log_batch(run_id, metrics=chunk)
        client.set_terminated(run_id)
    return time.perf_counter() - start


def ml_search_populate(p: Params) -> Result:
    """MLflow: the same runs; fewer steps if the full population would exceed the time limit."""
    probe_uri = p.get("ml_probe_uri")  # a throwaway store of its own: PostgreSQL, or a file
    if not probe_uri:
        probe_dir = Path(p["workdir"]) / "probe"
        probe_dir.mkdir()
        probe_uri = mlflow_uri({"workdir": probe_dir})
    probe_runs = min(MLFLOW_PROBE_RUNS, p["runs"])
    probe_s = _ml_populate(probe_uri, p, probe_runs, p["steps"])
    projected = probe_s / probe_runs * p["runs"]
    steps = p["steps"]
    if projected > p["limit_s"]:
        steps = max(1, int(steps * p["limit_s"] / projected))
    seconds = _ml_populate(mlflow_uri(p), p, p["runs"], steps)
    return {
        "runs": p["runs"],
        "steps": steps,
        "reduced": steps != p["steps"],
        "projected_full_s": projected,
        "seconds": seconds,
    }


def nb_search(p: Params) -> Result:
    """nbtrack: ``nbtrack.search_runs`` to pandas, all runs and filtered."""
    import pandas  # noqa: F401  (both libraries use it; its import is not part of a search)

    import nbtrack

    nbtrack.set_tracking_uri(nbtrack_uri(p))
    nbtrack.get_experiment("0")  # open the store

    def full() -> Any:
        return nbtrack.search_runs(search_all_experiments=True)

    def filtered() -> Any:
        return nbtrack.search_runs(search_all_experiments=True, filter_string=SEARCH_FILTER)

    return _search(full, filtered, p["repeats"])


def ml_search(p: Params) -> Result:
    """MLflow: ``mlflow.search_runs`` to pandas, all runs and filtered."""
    import mlflow

    mlflow.set_tracking_uri(mlflow_uri(p))
    mlflow.MlflowClient().get_experiment("0")  # open the store

    def full() -> Any:
        return mlflow.search_runs(search_all_experiments=True)

    def filtered() -> Any:
        return mlflow.search_runs(search_all_experiments=True, filter_string=SEARCH_FILTER)

    return _search(full, filtered, p["repeats"])


def _search(full: Callable[[], Any], filtered: Callable[[], Any], repeats: int) -> Result:
    full_times, frame = timed_calls(full, repeats + 1)
    filtered_times, subset = timed_calls(filtered, repeats + 1)
    return {
        "full": {**call_stats(full_times), "rows": len(frame), "columns": len(frame.columns)},
        "filtered": {**call_stats(filtered_times), "rows": len(subset)},
        "filter": SEARCH_FILTER,
    }


# -- 4. get_metric_history ---------------------------------------------------------------------


def nb_history_populate(p: Params) -> Result:
    """nbtrack: one run with ``steps`` points of ``loss``."""
    from nbtrack import TrackingClient
    from nbtrack.store import close_all

    client = TrackingClient(nbtrack_uri(p))
    run_id = client.create_run("0", run_name="history").info.run_id
    points = [("loss", value, ts, step) for _, step, ts, value in make_points(p["steps"], 1)]
    for batch in chunked(points, 10_000):
        client.log_batch(run_id, metrics=batch)
    client.set_terminated(run_id)
    close_all()
    return {"run_id": run_id, "steps": p["steps"]}


def ml_history_populate(p: Params) -> Result:
    """MLflow: one run with ``steps`` points of ``loss``."""
    import mlflow
    from mlflow.entities import Metric

    client = mlflow.MlflowClient(tracking_uri=mlflow_uri(p))
    run_id = client.create_run("0").info.run_id
    metrics = [Metric("loss", value, ts, step) for _, step, ts, value in make_points(p["steps"], 1)]
    start = time.perf_counter()
    for batch in chunked(metrics, MLFLOW_BATCH_LIMIT):
        client.log_batch(run_id, metrics=batch)
    seconds = time.perf_counter() - start
    client.set_terminated(run_id)
    return {"run_id": run_id, "steps": p["steps"], "seconds": seconds}


def nb_history(p: Params) -> Result:
    """nbtrack: ``TrackingClient.get_metric_history`` in a fresh process (store already open)."""
    from nbtrack import TrackingClient

    client = TrackingClient(nbtrack_uri(p))
    client.get_run(p["run_id"])  # open the store
    times, history = timed_calls(
        lambda: client.get_metric_history(p["run_id"], "loss"), p["repeats"] + 1
    )
    return {**call_stats(times), "points": len(history)}


def ml_history(p: Params) -> Result:
    """MLflow: ``MlflowClient.get_metric_history`` in a fresh process (store already open)."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=mlflow_uri(p))
    client.get_run(p["run_id"])  # open the store
    times, history = timed_calls(
        lambda: client.get_metric_history(p["run_id"], "loss"), p["repeats"] + 1
    )
    return {**call_stats(times), "points": len(history)}


CASES: dict[str, Callable[[Params], Result]] = {
    f.__name__: f
    for f in (
        nb_fluent,
        ml_fluent,
        raw_batch,
        nb_batch,
        ml_batch,
        nb_search_populate,
        ml_search_populate,
        nb_search,
        ml_search,
        nb_history_populate,
        ml_history_populate,
        nb_history,
        ml_history,
    )
}


def main() -> None:
    """Run the case named on the command line and print its result."""
    name, params = sys.argv[1], json.loads(sys.argv[2])
    os.chdir(params["workdir"])
    result = CASES[name](params)
    print(MARKER + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
