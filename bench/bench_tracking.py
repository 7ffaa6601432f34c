"""Benchmark nbtrack against MLflow's SQLite backend on the same work, on this machine.

Usage::

    python bench/bench_tracking.py           # full sizes (several minutes)
    python bench/bench_tracking.py --quick   # small sizes, a smoke run

Every measurement runs in a fresh Python process (see ``_cases.py``) in a fresh
temp directory; import, store creation and run creation are kept out of the
timed sections. Each figure is printed with its goal (PASS/MISS) and the
nbtrack/MLflow comparison; everything is also written to
``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _cases import MARKER, SEARCH_FILTER

BENCH_DIR = Path(__file__).resolve().parent
CASES_SCRIPT = BENCH_DIR / "_cases.py"
RESULTS_FILE = BENCH_DIR / "results" / "latest.json"
CASE_TIMEOUT_S = 1800

Result = dict[str, Any]

# The goals nbtrack is held to.
GOAL_FLUENT_RATE = 100_000  # calls/s, including the flush
GOAL_BATCH_FRACTION = 0.80  # of raw sqlite3 executemany
GOAL_SEARCH_S = 0.1
GOAL_HISTORY_S = 0.1
GOAL_BYTES_PER_POINT = 40
GOAL_IMPORT_S = 0.15
GOAL_COLD_START_S = 0.5


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    fluent_calls: int
    mlflow_fluent_calls: int
    batch_points: int
    batch_size: int
    batch_keys: int
    batch_repeats: int
    mlflow_batch_points: int
    search_runs: int
    search_params: int
    search_metrics: int
    search_steps: int
    search_repeats: int
    mlflow_populate_limit_s: float
    history_steps: int
    history_repeats: int
    mlflow_history_repeats: int
    process_repeats: int


FULL = Sizes(
    fluent_calls=100_000,
    mlflow_fluent_calls=2_000,
    batch_points=1_000_000,
    batch_size=10_000,
    batch_keys=10,
    batch_repeats=5,
    mlflow_batch_points=20_000,
    search_runs=1_000,
    search_params=20,
    search_metrics=10,
    search_steps=100,
    search_repeats=5,
    mlflow_populate_limit_s=180.0,
    history_steps=100_000,
    history_repeats=5,
    mlflow_history_repeats=3,
    process_repeats=5,
)

QUICK = Sizes(
    fluent_calls=5_000,
    mlflow_fluent_calls=100,
    batch_points=50_000,
    batch_size=5_000,
    batch_keys=10,
    batch_repeats=1,
    mlflow_batch_points=2_000,
    search_runs=50,
    search_params=20,
    search_metrics=10,
    search_steps=10,
    search_repeats=2,
    mlflow_populate_limit_s=30.0,
    history_steps=5_000,
    history_repeats=2,
    mlflow_history_repeats=1,
    process_repeats=2,
)


@dataclass
class Row:
    """One line of the summary table."""

    measurement: str
    nbtrack: str
    goal: str = ""
    verdict: str = ""
    mlflow: str = ""
    comparison: str = ""


@dataclass
class Bench:
    """State of one benchmark run: where it works and what it found."""

    sizes: Sizes
    root: Path
    rows: list[Row] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)

    def workdir(self, label: str) -> Path:
        """A fresh, empty directory for one case."""
        return Path(tempfile.mkdtemp(prefix=f"{label}-", dir=self.root))


class CaseError(RuntimeError):
    """A measurement process failed."""


# -- formatting ------------------------------------------------------------------------------


def fmt_int(value: float) -> str:
    """An integer with thousands separators."""
    return f"{value:,.0f}"


def fmt_s(seconds: float) -> str:
    """Seconds, with three decimals below 10 s."""
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def faster(nb_seconds: float, ml_seconds: float) -> str:
    """How many times faster nbtrack is than MLflow, given both times."""
    if nb_seconds <= ml_seconds:
        return f"nbtrack {ml_seconds / nb_seconds:,.1f}x faster"
    return f"nbtrack {nb_seconds / ml_seconds:,.1f}x slower"


def faster_rate(nb_rate: float, ml_rate: float) -> str:
    """How many times faster nbtrack is than MLflow, given both rates."""
    return faster(1 / nb_rate, 1 / ml_rate)


def verdict(ok: bool) -> str:
    """PASS or MISS."""
    return "PASS" if ok else "MISS"


def say(text: str = "") -> None:
    """Print a line at once (the run takes minutes)."""
    print(text, flush=True)


# -- processes -------------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """The environment of every measured process: no stray tracking URIs, no telemetry."""
    env = dict(os.environ)
    for name in ("NBTRACK_TRACKING_URI", "NBTRACK_ARTIFACT_ROOT", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_case(name: str, params: Result) -> Result:
    """Run one case of ``_cases.py`` in a fresh process and return its result."""
    proc = subprocess.run(
        [sys.executable, str(CASES_SCRIPT), name, json.dumps(params)],
        cwd=params["workdir"],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=CASE_TIMEOUT_S,
        check=False,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])  # type: ignore[no-any-return]
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
    raise CaseError(f"{name} failed (exit {proc.returncode}):\n{tail}")


def process_wall_time(code: str, args: list[str], cwd: Path) -> float:
    """Wall time of ``python -c code args...`` from start to exit."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=CASE_TIMEOUT_S,
        check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise CaseError(f"python -c {code!r} failed (exit {proc.returncode}):\n{tail}")
    return seconds


# -- the machine -----------------------------------------------------------------------------


def machine() -> Result:
    """CPU, cores, memory, Python, SQLite and library versions."""
    cpu = "unknown"
    with Path("/proc/cpuinfo").open() as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    with Path("/proc/meminfo").open() as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024**2, 1)
                break

    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": memory_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "sqlite": sqlite3.sqlite_version,
        "nbtrack": version("nbtrack"),
        "mlflow": version("mlflow"),
        "sqlalchemy": version("sqlalchemy"),
        "pandas": version("pandas"),
        "load_average_at_start": load_average(),
    }


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- 1. log_metric in a loop ------------------------------------------------------------------


def bench_fluent(b: Bench) -> None:
    """Fluent ``log_metric`` calls per second, nbtrack timed until ``flush`` returns."""
    s = b.sizes
    nb = run_case("nb_fluent", {"calls": s.fluent_calls, "workdir": str(b.workdir("nb-fluent"))})
    nb_rate = nb["calls"] / nb["seconds"]
    say(
        f"  nbtrack: {fmt_int(nb['calls'])} calls in {fmt_s(nb['seconds'])} incl. flush "
        f"-> {fmt_int(nb_rate)} calls/s (enqueue alone {fmt_s(nb['enqueue_s'])}; "
        f"{fmt_int(nb['stored'])} points stored)"
    )
    ok = nb_rate >= GOAL_FLUENT_RATE
    say(f"  goal   : >= {fmt_int(GOAL_FLUENT_RATE)} calls/s incl. flush -> {verdict(ok)}")
    calls = s.mlflow_fluent_calls
    ml = run_case("ml_fluent", {"calls": calls, "workdir": str(b.workdir("ml-fluent"))})
    ml_rate = ml["calls"] / ml["seconds"]
    say(
        f"  MLflow : {fmt_int(ml['calls'])} calls in {fmt_s(ml['seconds'])} "
        f"-> {fmt_int(ml_rate)} calls/s"
    )
    comparison = faster_rate(nb_rate, ml_rate)
    say(f"  => {comparison}")
    b.results["fluent_log_metric"] = {"nbtrack": nb, "mlflow": ml}
    b.rows.append(
        Row(
            "1. fluent log_metric (calls/s, incl. flush)",
            f"{fmt_int(nb_rate)} ({fmt_int(nb['calls'])} calls)",
            f">= {fmt_int(GOAL_FLUENT_RATE)}",
            verdict(ok),
            f"{fmt_int(ml_rate)} ({fmt_int(ml['calls'])} calls)",
            comparison,
        )
    )


# -- 2. batch throughput, 5. bytes per point -------------------------------------------------


def bench_batch(b: Bench) -> None:
    """log_batch points/s against raw executemany; then bytes per point on disk."""
    s = b.sizes
    params = {"points": s.batch_points, "batch": s.batch_size, "keys": s.batch_keys}
    raws: list[Result] = []
    nbs: list[Result] = []
    for i in range(s.batch_repeats):  # alternate, so drift hits both alike
        raw_dir, nb_dir = b.workdir("raw-batch"), b.workdir("nb-batch")
        raws.append(run_case("raw_batch", {**params, "workdir": str(raw_dir)}))
        nbs.append(run_case("nb_batch", {**params, "workdir": str(nb_dir)}))
        say(
            f"  try {i + 1}/{s.batch_repeats}: raw executemany "
            f"{fmt_int(raws[-1]['points'] / raws[-1]['seconds'])} points/s, nbtrack log_batch "
            f"{fmt_int(nbs[-1]['points'] / nbs[-1]['seconds'])} points/s"
        )
        if i < s.batch_repeats - 1:  # keep the last pair for the disk figures
            shutil.rmtree(raw_dir)
            shutil.rmtree(nb_dir)
    raw_rate = statistics.median(r["points"] / r["seconds"] for r in raws)
    nb_rate = statistics.median(r["points"] / r["seconds"] for r in nbs)
    nb, raw = nbs[-1], raws[-1]
    fraction = nb_rate / raw_rate
    ok = fraction >= GOAL_BATCH_FRACTION
    say(
        f"  raw sqlite3 executemany: {fmt_int(raw_rate)} points/s (median of {len(raws)}; "
        f"{fmt_int(raw['points'])} points, batches of {fmt_int(raw['batch'])}, "
        "one transaction each)"
    )
    say(
        f"  nbtrack log_batch      : {fmt_int(nb_rate)} points/s (median of {len(nbs)}; "
        f"until flush; enqueue alone {fmt_s(nb['enqueue_s'])}; {fmt_int(nb['stored'])} stored)"
    )
    say(f"  goal: nbtrack >= {GOAL_BATCH_FRACTION:.0%} of raw -> {fraction:.1%} -> {verdict(ok)}")
    ml_params = {"points": s.mlflow_batch_points, "keys": s.batch_keys}
    ml = run_case("ml_batch", {**ml_params, "workdir": str(b.workdir("ml-batch"))})
    ml_rate = ml["points"] / ml["seconds"]
    say(
        f"  MLflow log_batch       : {fmt_int(ml_rate)} points/s "
        f"({fmt_int(ml['points'])} points, batches of {ml['batch']})"
    )
    comparison = faster_rate(nb_rate, ml_rate)
    say(f"  => {comparison}")
    b.results["batch"] = {"raw": raws, "nbtrack": nbs, "mlflow": ml, "fraction_of_raw": fraction}
    b.rows.append(
        Row(
            "2. log_batch (points/s, incl. flush)",
            f"{fmt_int(nb_rate)} = {fraction:.0%} of raw {fmt_int(raw_rate)}",
            f">= {GOAL_BATCH_FRACTION:.0%} of raw",
            verdict(ok),
            f"{fmt_int(ml_rate)} ({fmt_int(ml['points'])} points)",
            comparison,
        )
    )
    bench_bytes(b, nb, raw, ml)


def bench_bytes(b: Bench, nb: Result, raw: Result, ml: Result) -> None:
    """Bytes per metric point: whole file after a WAL checkpoint, and the metrics table."""
    nb_file = nb["file_bytes"] / nb["points"]
    nb_table = nb["table_bytes"] / nb["points"] if nb["table_bytes"] is not None else None
    raw_file = raw["file_bytes"] / raw["points"]
    ml_file = (ml["file_bytes"] - ml["file_bytes_before"]) / ml["points"]
    ml_table = (
        (ml["table_bytes"] - (ml["table_bytes_before"] or 0)) / ml["points"]
        if ml["table_bytes"] is not None
        else None
    )
    ok = nb_file <= GOAL_BYTES_PER_POINT
    table_text = f"{nb_table:.1f}" if nb_table is not None else "n/a (no dbstat)"
    say(
        f"  nbtrack: {nb_file:.1f} bytes/point (file {fmt_int(nb['file_bytes'])} bytes / "
        f"{fmt_int(nb['points'])} points, WAL {nb['wal_bytes']} bytes after checkpoint); "
        f"metrics table alone {table_text} bytes/point"
    )
    say(f"  goal   : <= {GOAL_BYTES_PER_POINT} bytes/point (whole file) -> {verdict(ok)}")
    say(
        f"  raw    : {raw_file:.1f} bytes/point "
        "(the same rows; metrics table only, no latest_metrics)"
    )
    ml_table_text = f"{ml_table:.1f}" if ml_table is not None else "n/a"
    say(
        f"  MLflow : {ml_file:.1f} bytes/point (file growth over {fmt_int(ml['points'])} points); "
        f"metrics table + its indexes {ml_table_text} bytes/point"
    )
    comparison = f"nbtrack {ml_file / nb_file:.1f}x smaller"
    say(f"  => {comparison}")
    b.results["bytes_per_point"] = {
        "nbtrack_file": nb_file,
        "nbtrack_metrics_table": nb_table,
        "raw_file": raw_file,
        "mlflow_file_growth": ml_file,
        "mlflow_metrics_table": ml_table,
    }
    b.rows.append(
        Row(
            "5. bytes per metric point (file)",
            f"{nb_file:.1f} (table {table_text})",
            f"<= {GOAL_BYTES_PER_POINT}",
            verdict(ok),
            f"{ml_file:.1f} (table {ml_table_text})",
            comparison,
        )
    )


# -- 3. search_runs ----------------------------------------------------------------------------


def bench_search(b: Bench) -> None:
    """search_runs to pandas over many runs, all of them and filtered."""
    s = b.sizes
    shape = {
        "runs": s.search_runs,
        "params": s.search_params,
        "metrics": s.search_metrics,
        "steps": s.search_steps,
    }
    nb_dir, ml_dir = b.workdir("nb-search"), b.workdir("ml-search")
    nb_pop = run_case("nb_search_populate", {**shape, "workdir": str(nb_dir)})
    say(
        f"  populate nbtrack: {fmt_int(s.search_runs)} runs x ({s.search_params} params, "
        f"{s.search_metrics} metrics x {s.search_steps} steps) in {fmt_s(nb_pop['seconds'])}"
    )
    ml_pop = run_case(
        "ml_search_populate",
        {**shape, "limit_s": s.mlflow_populate_limit_s, "workdir": str(ml_dir)},
    )
    note = ""
    if ml_pop["reduced"]:
        note = (
            f" -- REDUCED to {ml_pop['steps']} steps per metric: {s.search_steps} steps were "
            f"projected to take {fmt_s(ml_pop['projected_full_s'])} (> "
            f"{fmt_s(s.mlflow_populate_limit_s)}); searches read only the latest values"
        )
    say(
        f"  populate MLflow : same runs, {ml_pop['steps']} steps per metric, in "
        f"{fmt_s(ml_pop['seconds'])}{note}"
    )
    repeats = {"repeats": s.search_repeats}
    nb = run_case("nb_search", {**repeats, "workdir": str(nb_dir)})
    ml = run_case("ml_search", {**repeats, "workdir": str(ml_dir)})
    say(f"  filter: {SEARCH_FILTER!r}")
    for kind in ("full", "filtered"):
        n, m = nb[kind], ml[kind]
        say(
            f"  {kind:8}: nbtrack {fmt_s(n['median_s'])} (first call {fmt_s(n['first_s'])}, "
            f"{n['rows']} rows) | MLflow {fmt_s(m['median_s'])} (first call "
            f"{fmt_s(m['first_s'])}, {m['rows']} rows) -> {faster(n['median_s'], m['median_s'])}"
        )
    ok = nb["full"]["median_s"] <= GOAL_SEARCH_S
    say(
        f"  goal: nbtrack full search <= {GOAL_SEARCH_S} s (median of {s.search_repeats} calls "
        f"after the first) -> {verdict(ok)}"
    )
    b.results["search_runs"] = {
        "nbtrack": nb,
        "mlflow": ml,
        "nbtrack_populate": nb_pop,
        "mlflow_populate": ml_pop,
    }
    b.rows.append(
        Row(
            f"3. search_runs, {s.search_runs} runs, full (s)",
            f"{fmt_s(nb['full']['median_s'])} (first {fmt_s(nb['full']['first_s'])})",
            f"<= {GOAL_SEARCH_S} s",
            verdict(ok),
            f"{fmt_s(ml['full']['median_s'])} (first {fmt_s(ml['full']['first_s'])})",
            faster(nb["full"]["median_s"], ml["full"]["median_s"]),
        )
    )
    b.rows.append(
        Row(
            f"3. search_runs, filtered to {nb['filtered']['rows']} (s)",
            f"{fmt_s(nb['filtered']['median_s'])} (first {fmt_s(nb['filtered']['first_s'])})",
            "",
            "",
            f"{fmt_s(ml['filtered']['median_s'])} (first {fmt_s(ml['filtered']['first_s'])})",
            faster(nb["filtered"]["median_s"], ml["filtered"]["median_s"]),
        )
    )
    b.rows.append(
        Row(
            "3. populate the runs (s)",
            fmt_s(nb_pop["seconds"]),
            "",
            "",
            fmt_s(ml_pop["seconds"]) + (f" ({ml_pop['steps']} steps)" if ml_pop["reduced"] else ""),
            faster(nb_pop["seconds"], ml_pop["seconds"]) if not ml_pop["reduced"] else "n/a",
        )
    )
    shutil.rmtree(nb_dir)
    shutil.rmtree(ml_dir)


# -- 4. get_metric_history -----------------------------------------------------------------------


def bench_history(b: Bench) -> None:
    """get_metric_history of one long metric, read in a fresh process."""
    s = b.sizes
    nb_dir, ml_dir = b.workdir("nb-history"), b.workdir("ml-history")
    nb_pop = run_case("nb_history_populate", {"steps": s.history_steps, "workdir": str(nb_dir)})
    ml_pop = run_case("ml_history_populate", {"steps": s.history_steps, "workdir": str(ml_dir)})
    say(
        f"  populated {fmt_int(s.history_steps)} steps in both (MLflow log_batch took "
        f"{fmt_s(ml_pop['seconds'])})"
    )
    nb = run_case(
        "nb_history",
        {"run_id": nb_pop["run_id"], "repeats": s.history_repeats, "workdir": str(nb_dir)},
    )
    ml = run_case(
        "ml_history",
        {"run_id": ml_pop["run_id"], "repeats": s.mlflow_history_repeats, "workdir": str(ml_dir)},
    )
    ok = nb["median_s"] <= GOAL_HISTORY_S
    comparison = faster(nb["median_s"], ml["median_s"])
    say(
        f"  nbtrack: {fmt_s(nb['median_s'])} (median of {s.history_repeats} after a first call of "
        f"{fmt_s(nb['first_s'])}; {fmt_int(nb['points'])} points)"
    )
    say(f"  goal   : <= {GOAL_HISTORY_S} s -> {verdict(ok)}")
    say(
        f"  MLflow : {fmt_s(ml['median_s'])} (median of {s.mlflow_history_repeats} after a first "
        f"call of {fmt_s(ml['first_s'])}; {fmt_int(ml['points'])} points)"
    )
    say(f"  => {comparison}")
    b.results["metric_history"] = {"nbtrack": nb, "mlflow": ml, "mlflow_populate": ml_pop}
    b.rows.append(
        Row(
            f"4. get_metric_history, {fmt_int(s.history_steps)} steps (s)",
            f"{fmt_s(nb['median_s'])} (first {fmt_s(nb['first_s'])})",
            f"<= {GOAL_HISTORY_S} s",
            verdict(ok),
            f"{fmt_s(ml['median_s'])} (first {fmt_s(ml['first_s'])})",
            comparison,
        )
    )
    shutil.rmtree(nb_dir)
    shutil.rmtree(ml_dir)


# -- 6. import and cold start ------------------------------------------------------------------

COLD_START = {
    "nbtrack": (
        "import sys, nbtrack\n"
        "nbtrack.set_tracking_uri(sys.argv[1])\n"
        "nbtrack.start_run()\n"
        "nbtrack.log_param('lr', 0.01)\n"
        "nbtrack.log_metric('loss', 0.5, step=0)\n"
        "nbtrack.end_run()\n"
    ),
    "mlflow": (
        "import sys, mlflow\n"
        "mlflow.set_tracking_uri(sys.argv[1])\n"
        "mlflow.start_run()\n"
        "mlflow.log_param('lr', 0.01)\n"
        "mlflow.log_metric('loss', 0.5, step=0)\n"
        "mlflow.end_run()\n"
    ),
}


def median_wall_time(b: Bench, label: str, code: str, db_name: str | None = None) -> Result:
    """Median wall time of ``process_repeats`` fresh ``python -c code`` processes.

    Each runs in a fresh directory; with ``db_name`` it gets that file's SQLite URI as argv[1].
    """
    times = []
    for _ in range(b.sizes.process_repeats):
        workdir = b.workdir(label)
        args = [f"sqlite:///{workdir / db_name}"] if db_name else []
        times.append(process_wall_time(code, args, workdir))
        shutil.rmtree(workdir)
    return {"median_s": statistics.median(times), "times_s": times}


def bench_processes(b: Bench) -> None:
    """``import`` time and a cold start that logs one run, in fresh processes."""
    n = b.sizes.process_repeats
    found: Result = {}
    for lib in ("nbtrack", "mlflow"):
        found[f"{lib}_import"] = median_wall_time(b, f"{lib}-import", f"import {lib}")
        found[f"{lib}_cold"] = median_wall_time(b, f"{lib}-cold", COLD_START[lib], f"{lib}.db")
    nb_imp, ml_imp = found["nbtrack_import"]["median_s"], found["mlflow_import"]["median_s"]
    nb_cold, ml_cold = found["nbtrack_cold"]["median_s"], found["mlflow_cold"]["median_s"]
    imp_ok, cold_ok = nb_imp <= GOAL_IMPORT_S, nb_cold <= GOAL_COLD_START_S
    say(
        f"  python -c 'import X' (median of {n}): nbtrack {fmt_s(nb_imp)} "
        f"[goal <= {GOAL_IMPORT_S} s: {verdict(imp_ok)}] | MLflow {fmt_s(ml_imp)} "
        f"-> {faster(nb_imp, ml_imp)}"
    )
    say(
        f"  cold start, new store + one run (median of {n}): nbtrack {fmt_s(nb_cold)} "
        f"[goal <= {GOAL_COLD_START_S} s: {verdict(cold_ok)}] | MLflow {fmt_s(ml_cold)} "
        f"-> {faster(nb_cold, ml_cold)}"
    )
    b.results["processes"] = found
    b.rows.append(
        Row(
            "6. python -c 'import ...' (s)",
            fmt_s(nb_imp),
            f"<= {GOAL_IMPORT_S} s",
            verdict(imp_ok),
            fmt_s(ml_imp),
            faster(nb_imp, ml_imp),
        )
    )
    b.rows.append(
        Row(
            "6. cold start: new store, one run (s)",
            fmt_s(nb_cold),
            f"<= {GOAL_COLD_START_S} s",
            verdict(cold_ok),
            fmt_s(ml_cold),
            faster(nb_cold, ml_cold),
        )
    )


# -- report --------------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    """The summary as a Markdown table."""
    header = ["Measurement", "nbtrack", "Goal", "", "MLflow", "nbtrack vs MLflow"]
    lines = [header, ["---"] * len(header)]
    ordered = sorted(rows, key=lambda r: int(r.measurement.split(".", 1)[0]))
    lines += [
        [r.measurement, r.nbtrack, r.goal, r.verdict, r.mlflow, r.comparison] for r in ordered
    ]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def run_sections(bench: Any, sections: list[tuple[str, Callable[[Any], None]]]) -> dict[str, str]:
    """Run each section, printing its title and time; returns the errors by section."""
    errors: dict[str, str] = {}
    for title, fn in sections:
        say()
        say(f"[{title}]")
        section_start = time.perf_counter()
        try:
            fn(bench)
        except (CaseError, subprocess.TimeoutExpired) as exc:
            errors[title] = str(exc)
            say(f"  ERROR: {exc}")
            bench.rows.append(Row(title, "ERROR", verdict="ERROR"))
        say(f"  ({time.perf_counter() - section_start:.0f} s)")
    return errors


def report(
    path: Path,
    script: str,
    started: dt.datetime,
    quick: bool,
    info: Result,
    bench: Bench,
    goals: Result,
    errors: dict[str, str],
) -> None:
    """Print the summary table and write every figure to ``path`` as JSON."""
    elapsed = (dt.datetime.now().astimezone() - started).total_seconds()
    say()
    say(table(bench.rows))
    say()
    say(f"total {elapsed:.0f} s; load average now {load_average()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    found = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join(["python", script, *sys.argv[1:]]),
        "mode": "quick" if quick else "full",
        "elapsed_s": elapsed,
        "load_average_at_end": load_average(),
        "machine": info,
        "sizes": asdict(bench.sizes),
        "goals": goals,
        "results": bench.results,
        "summary": [asdict(r) for r in bench.rows],
        "errors": errors,
    }
    path.write_text(json.dumps(found, indent=2) + "\n")
    say(f"results written to {path.relative_to(BENCH_DIR.parent)}")


SECTIONS: list[tuple[str, Callable[[Bench], None]]] = [
    ("1. log_metric in a loop (fluent API, inside start_run)", bench_fluent),
    ("2. log_batch throughput vs raw sqlite3 executemany (+ 5. bytes per point)", bench_batch),
    ("3. search_runs to pandas", bench_search),
    ("4. get_metric_history", bench_history),
    ("6. import time and cold start", bench_processes),
]


def main() -> int:
    """Run every measurement, print the figures and the summary, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    started = dt.datetime.now().astimezone()
    info = machine()
    say(
        f"nbtrack vs MLflow (SQLite backend) -- {'QUICK smoke run' if args.quick else 'full sizes'}"
    )
    say(f"date   : {started.strftime('%a %b %d %H:%M:%S %Z %Y')}")
    say(
        f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
        f"{info['memory_gib']} GiB, {info['os']}; load average {info['load_average_at_start']}"
    )
    say(
        f"python {info['python']}, SQLite {info['sqlite']}, nbtrack {info['nbtrack']}, "
        f"MLflow {info['mlflow']}, SQLAlchemy {info['sqlalchemy']}, pandas {info['pandas']}"
    )
    if args.quick:
        say("(quick run: sizes are reduced, so PASS/MISS is only indicative)")
    root = Path(tempfile.mkdtemp(prefix="nbtrack-bench-"))
    bench = Bench(sizes=sizes, root=root)
    try:
        errors = run_sections(bench, SECTIONS)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    goals = {
        "fluent_calls_per_s": GOAL_FLUENT_RATE,
        "batch_fraction_of_raw": GOAL_BATCH_FRACTION,
        "search_full_s": GOAL_SEARCH_S,
        "history_s": GOAL_HISTORY_S,
        "bytes_per_point": GOAL_BYTES_PER_POINT,
        "import_s": GOAL_IMPORT_S,
        "cold_start_s": GOAL_COLD_START_S,
    }
    report(RESULTS_FILE, "bench/bench_tracking.py", started, args.quick, info, bench, goals, errors)
    if args.keep:
        say(f"temp directory kept: {root}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
