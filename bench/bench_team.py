"""A team on one PostgreSQL store: many writer processes, one reader paging the run table.

Usage::

    python bench/bench_team.py --postgres postgresql://user@host:5432/db   # 32 writers x 60 s
    python bench/bench_team.py --quick                                     # 8 writers x 10 s

(the URI defaults to ``NBTRACK_TEST_POSTGRES_URI``, which ``.ci/postgres`` exports). The
store is a fresh database of that server, dropped at the end (``--keep`` keeps it).

Each writer is its own process with its own runs (a new run every ``--run-seconds``):
at a steady tick rate it logs one ``log_batch`` of ``--batch`` points over 10 metrics
and ``--singles`` ``log_metric`` calls, and flushes at the end. The reader is one more
process that pages through the active runs the way the Jupyter server extension's
``GET runs`` does (``queries.run_summaries`` with no filter, newest first, 50 a page),
page after page, from the first again after the last, and times each page. Afterwards
the metric rows are counted in PostgreSQL directly, per run, and compared with what
each writer says it logged: the script exits 1 if a single point is missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

MARKER = "@@TEAM_RESULT "
#: Metrics per run that log_batch spreads its points over.
BATCH_KEYS = 10
#: Runs per page, as the server extension's runs table asks for them.
PAGE_SIZE = 50
#: How long processes get to import and open the store before the clock starts (s).
START_DELAY_S = 20.0

Result = dict[str, Any]


# -- the processes -------------------------------------------------------------------


def writer(p: Result) -> Result:
    """Log at a steady rate until the end time; return the points logged per run."""
    from nbtrack import TrackingClient

    client = TrackingClient(p["uri"])
    names = [f"m{k}" for k in range(BATCH_KEYS)]
    steps_per_batch = max(1, p["batch"] // BATCH_KEYS)
    interval = 1.0 / p["ticks_per_s"]
    logged: dict[str, int] = {}
    run_id = ""
    step = 0
    ticks = late = 0
    wait_until(p["start"])
    start = time.time()
    next_run = start
    next_tick = start
    while True:
        now = time.time()
        if now >= p["end"]:
            break
        if now >= next_run:  # a new run of this writer
            if run_id:
                client.set_terminated(run_id)
            run = client.create_run("0", run_name=f"w{p['writer']}-{len(logged)}")
            run_id = run.info.run_id
            client.log_batch(
                run_id, params=[("writer", str(p["writer"])), ("lr", "0.01")], tags=[("team", "1")]
            )
            logged[run_id] = 0
            step = 0
            next_run = now + p["run_seconds"]
        ts = int(now * 1000)
        client.log_batch(
            run_id,
            metrics=[
                (names[k], (step + s) * 0.001 + k, ts, step + s)
                for s in range(steps_per_batch)
                for k in range(BATCH_KEYS)
            ],
        )
        for s in range(p["singles"]):
            client.log_metric(run_id, "loss", 1.0 / (step + s + 1), timestamp=ts, step=step + s)
        step += max(steps_per_batch, p["singles"])
        logged[run_id] += steps_per_batch * BATCH_KEYS + p["singles"]
        ticks += 1
        next_tick += interval
        pause = next_tick - time.time()
        if pause > 0:
            time.sleep(pause)
        else:
            late += 1
    logging_done = time.time()
    client.set_terminated(run_id)
    client.flush()
    flushed = time.time()
    return {
        "writer": p["writer"],
        "logged": logged,
        "points": sum(logged.values()),
        "ticks": ticks,
        "late_ticks": late,
        "start": start,
        "logging_done": logging_done,
        "flushed": flushed,
    }


def reader(p: Result) -> Result:
    """Page through the run table until the end time; return each page's latency."""
    from nbtrack import TrackingClient

    client = TrackingClient(p["uri"])
    queries = client.queries
    latencies: list[float] = []
    pages_walked = 0
    wait_until(p["start"])
    offset = 0
    while time.time() < p["end"]:
        began = time.perf_counter()
        # The call of the server extension's GET runs (server/_queries.search_runs).
        page = queries.run_summaries(None, None, [], "active", PAGE_SIZE, offset)
        latencies.append(time.perf_counter() - began)
        if page.more:
            offset += PAGE_SIZE
        else:
            offset = 0
            pages_walked += 1
    return {"latencies_s": latencies, "walks": pages_walked}


def wait_until(moment: float) -> None:
    """Sleep until the wall-clock time ``moment``."""
    pause = moment - time.time()
    if pause > 0:
        time.sleep(pause)


ROLES = {"writer": writer, "reader": reader}


def child(role: str, params: Result) -> subprocess.Popen[str]:
    """Start one process of this script in ``role``."""
    env = dict(os.environ)
    for name in ("NBTRACK_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, __file__, "--role", role, json.dumps(params)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def result_of(proc: subprocess.Popen[str], timeout: float) -> Result:
    """The JSON result a child printed; raises with its stderr if it failed."""
    out, err = proc.communicate(timeout=timeout)
    for line in reversed(out.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])  # type: ignore[no-any-return]
    tail = "\n".join(err.strip().splitlines()[-15:])
    raise RuntimeError(f"a child process failed (exit {proc.returncode}):\n{tail}")


# -- the orchestrator --------------------------------------------------------------------


class ConnectionSampler(threading.Thread):
    """Counts the store database's connections once a second (pg_stat_activity)."""

    def __init__(self, admin: Any, database: str) -> None:
        super().__init__(daemon=True)
        self.admin, self.database = admin, database
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with self.admin.connect() as conn:
            while not self.stop.wait(1.0):
                count = conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %(d)s",
                    {"d": self.database},
                ).scalar()
                self.samples.append(int(count))


def stored_points(admin: Any, database: str) -> tuple[dict[str, int], Result]:
    """Metric rows per run id, counted in PostgreSQL, and the metrics table's size."""
    import sqlalchemy as sa

    url = admin.url.set(database=database)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            per_run = dict(
                conn.exec_driver_sql(
                    "SELECT r.run_id, count(*) FROM metrics m JOIN runs r ON r.run_pk = m.run_pk "
                    "GROUP BY r.run_id"
                ).all()
            )
            conn.exec_driver_sql("ANALYZE metrics")
            size = conn.exec_driver_sql(
                "SELECT pg_total_relation_size('metrics'), pg_relation_size('metrics'), "
                "pg_indexes_size('metrics'), pg_database_size(current_database())"
            ).one()
    finally:
        engine.dispose()
    total, heap, indexes, database_bytes = size
    return per_run, {
        "metrics_total_bytes": total,
        "metrics_heap_bytes": heap,
        "metrics_index_bytes": indexes,
        "database_bytes": database_bytes,
    }


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main() -> int:
    """Run the simulation and print its figures; exit 1 if a point is missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=os.environ.get("NBTRACK_TEST_POSTGRES_URI"))
    parser.add_argument("--quick", action="store_true", help="8 writers x 10 s")
    parser.add_argument("--writers", type=int, default=None, help="writer processes (32)")
    parser.add_argument("--seconds", type=float, default=None, help="how long they log (60)")
    parser.add_argument("--ticks-per-s", type=float, default=10.0, help="ticks per writer")
    parser.add_argument("--batch", type=int, default=100, help="log_batch points per tick")
    parser.add_argument("--singles", type=int, default=5, help="log_metric calls per tick")
    parser.add_argument("--run-seconds", type=float, default=15.0, help="a new run this often")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--role", choices=sorted(ROLES), help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.role:
        result = ROLES[args.role](json.loads(rest[0]))
        print(MARKER + json.dumps(result), flush=True)
        return 0
    if not args.postgres:
        parser.error("give --postgres URI (or source .ci/postgres && nbtrack_pg_start)")
    writers = args.writers or (8 if args.quick else 32)
    seconds = args.seconds or (10.0 if args.quick else 60.0)

    import sqlalchemy as sa

    from bench_postgres import Databases
    from bench_tracking import load_average, say

    dbs = Databases(sa.make_url(args.postgres))
    database = dbs.fresh("team")
    uri = dbs.uri.set(drivername="postgresql+psycopg", database=database)
    admin = sa.create_engine(
        dbs.uri.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    artifacts = tempfile.mkdtemp(prefix="nbtrack-team-artifacts-")
    os.environ["NBTRACK_ARTIFACT_ROOT"] = artifacts  # this process and the children
    started = dt.datetime.now().astimezone()
    load_start = load_average()
    per_tick = args.batch // BATCH_KEYS * BATCH_KEYS + args.singles
    offered = writers * args.ticks_per_s * per_tick
    say(
        f"team simulation: {writers} writers x {seconds:.0f} s + 1 reader on PostgreSQL "
        f"{dbs.server()['server_version']} -- {started.strftime('%a %b %d %H:%M:%S %Z %Y')}"
    )
    say(
        f"each writer: {args.ticks_per_s:g} ticks/s x (log_batch of {per_tick - args.singles} "
        f"points + {args.singles} log_metric) = {args.ticks_per_s * per_tick:,.0f} points/s; "
        f"all: {offered:,.0f} points/s offered; load average {load_start}"
    )
    try:
        # Create the schema once, so that the clock does not time the migration.
        from nbtrack import TrackingClient
        from nbtrack.store import close_all

        TrackingClient(uri.render_as_string(hide_password=False)).get_experiment("0")
        close_all()
        start = time.time() + START_DELAY_S
        common = {
            "uri": uri.render_as_string(hide_password=False),
            "start": start,
            "end": start + seconds,
        }
        procs = [
            child(
                "writer",
                {
                    **common,
                    "writer": i,
                    "ticks_per_s": args.ticks_per_s,
                    "batch": args.batch,
                    "singles": args.singles,
                    "run_seconds": args.run_seconds,
                },
            )
            for i in range(writers)
        ]
        reading = child("reader", common)
        sampler = ConnectionSampler(admin, database)
        sampler.start()
        limit = START_DELAY_S + seconds + 600
        results = [result_of(proc, limit) for proc in procs]
        read = result_of(reading, limit)
        sampler.stop.set()
        sampler.join()
        per_run, sizes = stored_points(admin, database)
    finally:
        if not args.keep:
            dbs.drop_all()
        admin.dispose()
    logged = {run: n for r in results for run, n in r["logged"].items()}
    points_logged = sum(logged.values())
    points_stored = sum(per_run.get(run, 0) for run in logged)
    missing = {run: n - per_run.get(run, 0) for run, n in logged.items() if per_run.get(run) != n}
    first = min(r["start"] for r in results)
    flushed = max(r["flushed"] for r in results)
    logging_done = max(r["logging_done"] for r in results)
    ticks = sum(r["ticks"] for r in results)
    late = sum(r["late_ticks"] for r in results)
    latencies = read["latencies_s"]
    throughput = points_stored / (flushed - first)
    bytes_per_row = sizes["metrics_total_bytes"] / max(1, points_stored)
    say()
    say(
        f"writes : {points_logged:,} points logged by {writers} writers in {len(logged)} runs; "
        f"{throughput:,.0f} points/s stored (first tick to last flush: {flushed - first:.1f} s; "
        f"logging ended {logging_done - first:.1f} s, flush tail {flushed - logging_done:.2f} s)"
    )
    say(
        f"         {ticks:,} ticks, {late:,} behind schedule ({late / max(1, ticks):.1%}); "
        f"offered {offered:,.0f} points/s"
    )
    say(
        f"reads  : {len(latencies):,} pages of {PAGE_SIZE} runs ({read['walks']} walks through "
        f"the whole table); latency p50 {statistics.median(latencies) * 1000:.1f} ms, p99 "
        f"{percentile(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    most = max(sampler.samples, default=0)
    say(
        f"conns  : at most {most} connections to the store database at once "
        f"({writers + 1} processes; {most / (writers + 1):.1f} a process)"
    )
    say(
        f"size   : metrics table {sizes['metrics_total_bytes']:,} bytes with indexes "
        f"(heap {sizes['metrics_heap_bytes']:,}, indexes {sizes['metrics_index_bytes']:,}) / "
        f"{points_stored:,} rows = {bytes_per_row:.1f} bytes per metric row"
    )
    say(
        f"lost   : points logged {points_logged:,} == points stored {points_stored:,}: "
        f"{'yes' if not missing else 'NO'}"
    )
    say(f"load average at the end {load_average()}")
    report = {
        "date": started.isoformat(timespec="seconds"),
        "writers": writers,
        "seconds": seconds,
        "offered_points_per_s": offered,
        "points_logged": points_logged,
        "points_stored": points_stored,
        "throughput_points_per_s": throughput,
        "read_p50_s": statistics.median(latencies),
        "read_p99_s": percentile(latencies, 0.99),
        "pages_read": len(latencies),
        "max_connections": most,
        "bytes_per_metric_row": bytes_per_row,
        "sizes": sizes,
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "missing": missing,
    }
    results_file = Path(__file__).resolve().parent / "results" / "team-latest.json"
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(report, indent=2) + "\n")
    if missing:
        say(f"MISSING points in {len(missing)} runs: {dict(list(missing.items())[:10])}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
