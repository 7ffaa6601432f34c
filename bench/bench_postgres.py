"""Benchmark nbtrack against MLflow, both on the same PostgreSQL server.

Usage::

    python bench/bench_postgres.py --postgres postgresql://user@host:5432/db
    python bench/bench_postgres.py --quick      # small sizes; the URI from
                                                # NBTRACK_TEST_POSTGRES_URI (.ci/postgres)

The cases are those of ``bench_tracking.py`` (``_cases.py``, each in a fresh
process), pointed at PostgreSQL: every case of each side gets a fresh database
of its own on the given server (created through the URI's database, dropped at
the end). nbtrack talks to it with psycopg 3 (``postgresql+psycopg://``),
MLflow with its ``postgresql://`` store (psycopg2, its default driver). Results
go to ``bench/results/postgres-latest.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from _cases import SEARCH_FILTER
from bench_tracking import (
    BENCH_DIR,
    FULL,
    QUICK,
    Bench,
    Row,
    faster,
    fmt_int,
    fmt_s,
    machine,
    report,
    run_case,
    run_sections,
    say,
    verdict,
)

RESULTS_FILE = BENCH_DIR / "results" / "postgres-latest.json"

# The goals nbtrack is held to on PostgreSQL (issue 14).
GOAL_BATCH_RATE = 200_000  # points/s, including the flush
GOAL_SEARCH_S = 0.2
GOAL_HISTORY_S = 0.2
GOAL_VS_MLFLOW = 20.0  # times MLflow on the same server, for each of the three

Result = dict[str, Any]


@dataclass
class Databases:
    """Fresh databases on one PostgreSQL server, one per store, dropped at the end."""

    uri: sa.URL
    prefix: str = field(default_factory=lambda: f"nbbench_{os.getpid()}")
    created: list[str] = field(default_factory=list)
    _counter: Iterator[int] = field(default_factory=itertools.count)

    def _admin(self) -> sa.Engine:
        url = self.uri.set(drivername="postgresql+psycopg")
        return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def fresh(self, label: str) -> str:
        """A new empty database; returns its name."""
        name = f"{self.prefix}_{next(self._counter)}_{label}".lower()
        engine = self._admin()
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            engine.dispose()
        self.created.append(name)
        return name

    def nbtrack(self, label: str) -> str:
        """The URI of a fresh database for nbtrack (psycopg 3)."""
        url = self.uri.set(drivername="postgresql+psycopg", database=self.fresh(f"nb_{label}"))
        return url.render_as_string(hide_password=False)

    def mlflow(self, label: str) -> str:
        """The URI of a fresh database for MLflow (``postgresql://``: psycopg2)."""
        url = self.uri.set(drivername="postgresql", database=self.fresh(f"ml_{label}"))
        return url.render_as_string(hide_password=False)

    def drop_all(self) -> None:
        """Drop every database this run created."""
        engine = self._admin()
        try:
            with engine.connect() as conn:
                for name in self.created:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            engine.dispose()
        self.created.clear()

    def server(self) -> Result:
        """The server's version and the settings that matter for write speed."""
        engine = self._admin()
        try:
            with engine.connect() as conn:
                found = {
                    name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                    for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")
                }
        finally:
            engine.dispose()
        return found


@dataclass
class PgBench(Bench):
    """A :class:`Bench` whose stores live in fresh PostgreSQL databases."""

    dbs: Databases | None = None

    def stores(self, label: str) -> Result:
        """Case params: a fresh workdir and a fresh database for each side."""
        assert self.dbs is not None
        return {
            "workdir": str(self.workdir(label)),
            "nb_uri": self.dbs.nbtrack(label),
            "ml_uri": self.dbs.mlflow(label),
        }


def ratio_ok(nb_seconds: float, ml_seconds: float) -> bool:
    """Whether nbtrack took at most 1/20 of MLflow's time."""
    return ml_seconds / nb_seconds >= GOAL_VS_MLFLOW


def goal_text(absolute: str) -> str:
    """The goal column: the absolute goal and the ratio to MLflow."""
    return f"{absolute} and >= {GOAL_VS_MLFLOW:.0f}x MLflow"


def bench_fluent(b: PgBench) -> None:
    """Fluent ``log_metric`` calls per second (no goal on PostgreSQL: reported)."""
    s = b.sizes
    stores = b.stores("fluent")
    nb = run_case("nb_fluent", {**stores, "calls": s.fluent_calls})
    ml = run_case("ml_fluent", {**stores, "calls": s.mlflow_fluent_calls})
    nb_rate, ml_rate = nb["calls"] / nb["seconds"], ml["calls"] / ml["seconds"]
    comparison = faster(1 / nb_rate, 1 / ml_rate)
    say(
        f"  nbtrack: {fmt_int(nb['calls'])} calls in {fmt_s(nb['seconds'])} incl. flush -> "
        f"{fmt_int(nb_rate)} calls/s ({fmt_int(nb['stored'])} stored) | MLflow: "
        f"{fmt_int(ml['calls'])} calls -> {fmt_int(ml_rate)} calls/s => {comparison}"
    )
    b.results["fluent_log_metric"] = {"nbtrack": nb, "mlflow": ml}
    b.rows.append(
        Row(
            "1. fluent log_metric (calls/s, incl. flush)",
            f"{fmt_int(nb_rate)} ({fmt_int(nb['calls'])} calls)",
            "",
            "",
            f"{fmt_int(ml_rate)} ({fmt_int(ml['calls'])} calls)",
            comparison,
        )
    )


def bench_batch(b: PgBench) -> None:
    """log_batch points/s (median of tries, each in fresh databases), and bytes per point."""
    s = b.sizes
    params = {"points": s.batch_points, "batch": s.batch_size, "keys": s.batch_keys}
    nbs: list[Result] = []
    for i in range(s.batch_repeats):
        nbs.append(run_case("nb_batch", {**params, **b.stores(f"batch{i}")}))
        say(f"  try {i + 1}/{s.batch_repeats}: {fmt_int(nbs[-1]['points'] / nbs[-1]['seconds'])}")
    nb_rate = statistics.median(r["points"] / r["seconds"] for r in nbs)
    ml_params = {"points": s.mlflow_batch_points, "keys": s.batch_keys}
    ml = run_case("ml_batch", {**ml_params, **b.stores("mlbatch")})
    ml_rate = ml["points"] / ml["seconds"]
    nb = nbs[-1]
    ok = nb_rate >= GOAL_BATCH_RATE and nb_rate / ml_rate >= GOAL_VS_MLFLOW
    comparison = faster(1 / nb_rate, 1 / ml_rate)
    say(
        f"  nbtrack log_batch: {fmt_int(nb_rate)} points/s (median of {len(nbs)}; "
        f"{fmt_int(nb['points'])} points in batches of {fmt_int(nb['batch'])}, until flush; "
        f"enqueue alone {fmt_s(nb['enqueue_s'])}; {fmt_int(nb['stored'])} stored)"
    )
    say(
        f"  MLflow log_batch : {fmt_int(ml_rate)} points/s ({fmt_int(ml['points'])} points, "
        f"batches of {ml['batch']}) => {comparison}"
    )
    say(f"  goal: {goal_text(fmt_int(GOAL_BATCH_RATE))} -> {verdict(ok)}")
    nb_bytes = nb["table_bytes"] / nb["points"]
    ml_bytes = (ml["table_bytes"] - ml["table_bytes_before"]) / ml["points"]
    say(
        f"  bytes per point, pg_total_relation_size('metrics') / points: nbtrack {nb_bytes:.1f}, "
        f"MLflow {ml_bytes:.1f} (database: nbtrack {fmt_int(nb['file_bytes'])} bytes)"
    )
    b.results["batch"] = {"nbtrack": nbs, "mlflow": ml}
    b.results["bytes_per_point"] = {"nbtrack_metrics_table": nb_bytes, "mlflow_metrics": ml_bytes}
    b.rows.append(
        Row(
            "2. log_batch (points/s, incl. flush)",
            f"{fmt_int(nb_rate)} ({fmt_int(nb['points'])} points)",
            goal_text(f">= {fmt_int(GOAL_BATCH_RATE)}"),
            verdict(ok),
            f"{fmt_int(ml_rate)} ({fmt_int(ml['points'])} points)",
            comparison,
        )
    )
    b.rows.append(
        Row(
            "5. bytes per metric point (metrics table + indexes)",
            f"{nb_bytes:.1f}",
            "",
            "",
            f"{ml_bytes:.1f}",
            f"nbtrack {ml_bytes / nb_bytes:.1f}x smaller",
        )
    )


def bench_search(b: PgBench) -> None:
    """search_runs to pandas over the runs, all of them and filtered."""
    s = b.sizes
    shape = {
        "runs": s.search_runs,
        "params": s.search_params,
        "metrics": s.search_metrics,
        "steps": s.search_steps,
    }
    stores = b.stores("search")
    assert b.dbs is not None
    nb_pop = run_case("nb_search_populate", {**shape, **stores})
    ml_pop = run_case(
        "ml_search_populate",
        {
            **shape,
            **stores,
            "limit_s": s.mlflow_populate_limit_s,
            "ml_probe_uri": b.dbs.mlflow("probe"),
        },
    )
    reduced = f" (REDUCED to {ml_pop['steps']} steps)" if ml_pop["reduced"] else ""
    say(
        f"  populate {fmt_int(s.search_runs)} runs x ({s.search_params} params, "
        f"{s.search_metrics} metrics x {s.search_steps} steps): nbtrack "
        f"{fmt_s(nb_pop['seconds'])}, MLflow {fmt_s(ml_pop['seconds'])}{reduced}"
    )
    nb = run_case("nb_search", {**stores, "repeats": s.search_repeats})
    ml = run_case("ml_search", {**stores, "repeats": s.search_repeats})
    say(f"  filter: {SEARCH_FILTER!r}")
    for kind in ("full", "filtered"):
        n, m = nb[kind], ml[kind]
        say(
            f"  {kind:8}: nbtrack {fmt_s(n['median_s'])} (first {fmt_s(n['first_s'])}, "
            f"{n['rows']} rows) | MLflow {fmt_s(m['median_s'])} (first {fmt_s(m['first_s'])}, "
            f"{m['rows']} rows) -> {faster(n['median_s'], m['median_s'])}"
        )
    nb_s, ml_s = nb["full"]["median_s"], ml["full"]["median_s"]
    ok = nb_s <= GOAL_SEARCH_S and ratio_ok(nb_s, ml_s)
    say(f"  goal: full search {goal_text(f'<= {GOAL_SEARCH_S} s')} -> {verdict(ok)}")
    b.results["search_runs"] = {
        "nbtrack": nb,
        "mlflow": ml,
        "nbtrack_populate": nb_pop,
        "mlflow_populate": ml_pop,
    }
    b.rows.append(
        Row(
            f"3. search_runs, {s.search_runs} runs, full (s)",
            f"{fmt_s(nb_s)} (first {fmt_s(nb['full']['first_s'])})",
            goal_text(f"<= {GOAL_SEARCH_S} s"),
            verdict(ok),
            f"{fmt_s(ml_s)} (first {fmt_s(ml['full']['first_s'])})",
            faster(nb_s, ml_s),
        )
    )
    b.rows.append(
        Row(
            f"3. search_runs, filtered to {nb['filtered']['rows']} (s)",
            fmt_s(nb["filtered"]["median_s"]),
            "",
            "",
            fmt_s(ml["filtered"]["median_s"]),
            faster(nb["filtered"]["median_s"], ml["filtered"]["median_s"]),
        )
    )
    b.rows.append(
        Row(
            "3. populate the runs (s)",
            fmt_s(nb_pop["seconds"]),
            "",
            "",
            fmt_s(ml_pop["seconds"]) + reduced,
            faster(nb_pop["seconds"], ml_pop["seconds"]) if not reduced else "n/a",
        )
    )


def bench_history(b: PgBench) -> None:
    """get_metric_history of one long metric, read in a fresh process."""
    s = b.sizes
    stores = b.stores("history")
    nb_pop = run_case("nb_history_populate", {**stores, "steps": s.history_steps})
    ml_pop = run_case("ml_history_populate", {**stores, "steps": s.history_steps})
    nb = run_case(
        "nb_history", {**stores, "run_id": nb_pop["run_id"], "repeats": s.history_repeats}
    )
    ml = run_case(
        "ml_history",
        {**stores, "run_id": ml_pop["run_id"], "repeats": s.mlflow_history_repeats},
    )
    ok = nb["median_s"] <= GOAL_HISTORY_S and ratio_ok(nb["median_s"], ml["median_s"])
    comparison = faster(nb["median_s"], ml["median_s"])
    say(
        f"  nbtrack: {fmt_s(nb['median_s'])} (first {fmt_s(nb['first_s'])}; "
        f"{fmt_int(nb['points'])} points) | MLflow {fmt_s(ml['median_s'])} (first "
        f"{fmt_s(ml['first_s'])}; {fmt_int(ml['points'])} points) => {comparison}"
    )
    say(f"  goal: {goal_text(f'<= {GOAL_HISTORY_S} s')} -> {verdict(ok)}")
    b.results["metric_history"] = {"nbtrack": nb, "mlflow": ml, "mlflow_populate": ml_pop}
    b.rows.append(
        Row(
            f"4. get_metric_history, {fmt_int(s.history_steps)} steps (s)",
            f"{fmt_s(nb['median_s'])} (first {fmt_s(nb['first_s'])})",
            goal_text(f"<= {GOAL_HISTORY_S} s"),
            verdict(ok),
            f"{fmt_s(ml['median_s'])} (first {fmt_s(ml['first_s'])})",
            comparison,
        )
    )


SECTIONS: list[tuple[str, Callable[[PgBench], None]]] = [
    ("1. log_metric in a loop (fluent API, inside start_run)", bench_fluent),
    ("2. log_batch throughput (+ 5. bytes per point)", bench_batch),
    ("3. search_runs to pandas", bench_search),
    ("4. get_metric_history", bench_history),
]


def main() -> int:
    """Run every measurement on the server, print the figures and the summary, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres",
        default=os.environ.get("NBTRACK_TEST_POSTGRES_URI"),
        help="a PostgreSQL URI whose user may CREATE DATABASE (default: "
        "$NBTRACK_TEST_POSTGRES_URI)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the databases and temp dir")
    args = parser.parse_args()
    if not args.postgres:
        parser.error(
            "give --postgres URI (or start a throwaway server: source .ci/postgres && "
            "nbtrack_pg_start, which exports NBTRACK_TEST_POSTGRES_URI)"
        )
    sizes = QUICK if args.quick else FULL
    dbs = Databases(sa.make_url(args.postgres))
    started = dt.datetime.now().astimezone()
    info = {**machine(), "postgres": dbs.server()}
    say(f"nbtrack vs MLflow on PostgreSQL -- {'QUICK smoke run' if args.quick else 'full sizes'}")
    say(f"date   : {started.strftime('%a %b %d %H:%M:%S %Z %Y')}")
    say(
        f"machine: {info['cpu']}, {info['usable_cores']} usable cores, {info['memory_gib']} GiB; "
        f"load average {info['load_average_at_start']}"
    )
    say(f"server : PostgreSQL {info['postgres']} at {dbs.uri.host}:{dbs.uri.port}")
    root = Path(tempfile.mkdtemp(prefix="nbtrack-pgbench-"))
    bench = PgBench(sizes=sizes, root=root, dbs=dbs)
    try:
        errors = run_sections(bench, SECTIONS)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
            dbs.drop_all()
    goals = {
        "batch_points_per_s": GOAL_BATCH_RATE,
        "search_full_s": GOAL_SEARCH_S,
        "history_s": GOAL_HISTORY_S,
        "times_mlflow": GOAL_VS_MLFLOW,
    }
    report(RESULTS_FILE, "bench/bench_postgres.py", started, args.quick, info, bench, goals, errors)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
