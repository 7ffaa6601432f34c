"""Benchmark headless runs: ``nbtrack run`` vs papermill, and a sweep in parallel vs serial.

Usage::

    pip install -e ".[bench]"               # papermill
    python bench/bench_projects.py          # 5 tries each (about 2 minutes on 2 cores)
    python bench/bench_projects.py --quick  # 2 tries, a smoke run

1. The same small notebook (a ``parameters`` cell, some arithmetic, 100 metric
   points logged with ``nbtrack.log_metric``) is executed by ``nbtrack run`` and
   by ``papermill`` with the same injected parameter, each as a command in a
   fresh process started with the real interpreter. The two alternate, after one
   untimed warm-up each; the figure is the median wall time. Both start a fresh
   kernel; under papermill the notebook's own calls start their own run. Goal:
   nbtrack within 10% of papermill.
2. An 8-combination ``nbtrack sweep`` of that notebook with ``--jobs 2`` and
   with ``--jobs 1`` (serial, in one process), median of the tries.

Everything runs in a fresh temp directory with its own store. Results are
printed and written to ``bench/results/projects.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat import v4

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_FILE = BENCH_DIR / "results" / "projects.json"
NBTRACK = [sys.executable, "-c", "from nbtrack.cli import main; main()"]
PAPERMILL = [sys.executable, "-m", "papermill"]
GOAL_RATIO = 1.10


def write_notebook(path: Path) -> None:
    """The benchmark notebook: a parameters cell and three short cells."""
    notebook = v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [
        v4.new_code_cell("n = 20000\nlr = 0.1\nbatch = 32", metadata={"tags": ["parameters"]}),
        v4.new_code_cell("import math\n\nimport nbtrack"),
        v4.new_code_cell("total = sum(math.sin(i * lr) for i in range(n))\nprint(total)"),
        v4.new_code_cell(
            "for step in range(100):\n"
            "    nbtrack.log_metric('loss', lr * batch / (step + 1), step=step)\n"
            "nbtrack.log_metric('total', total)"
        ),
    ]
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"c{index}"
    nbformat.write(notebook, path)


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall time of a command that must succeed."""
    start = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def load_average() -> str:
    """The 1-minute load average, when the OS has one."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def main() -> int:
    """Run both measurements, print them, write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 tries instead of 5")
    parser.add_argument("--tries", type=int, help="tries per measurement")
    args = parser.parse_args()
    tries = args.tries or (2 if args.quick else 5)
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {load_average()}")

    with tempfile.TemporaryDirectory(prefix="nbtrack-bench-") as tmp:
        work = Path(tmp)
        notebook = work / "bench.ipynb"
        write_notebook(notebook)
        env = {**os.environ, "NBTRACK_TRACKING_URI": str(work / ".nbtrack")}
        env.pop("NBTRACK_RUN_ID", None)
        run_cmd = [*NBTRACK, "run", str(notebook), "-p", "lr=0.2", "--no-progress"]
        pm_cmd = [*PAPERMILL, str(notebook), str(work / "out.ipynb"), "-p", "lr", "0.2"]
        pm_cmd += ["--no-progress-bar", "--kernel", "python3"]

        timed(run_cmd, env, work)  # warm-ups: first imports, store creation, kernelspec cache
        timed(pm_cmd, env, work)
        nbtrack_times, papermill_times = [], []
        for attempt in range(tries):
            nbtrack_times.append(timed(run_cmd, env, work))
            papermill_times.append(timed(pm_cmd, env, work))
            print(
                f"  try {attempt + 1}: nbtrack run {nbtrack_times[-1]:.2f} s, "
                f"papermill {papermill_times[-1]:.2f} s"
            )
        nb_median = statistics.median(nbtrack_times)
        pm_median = statistics.median(papermill_times)
        ratio = nb_median / pm_median
        verdict = "PASS" if ratio <= GOAL_RATIO else "MISS"
        print(f"nbtrack run: median {nb_median:.2f} s   papermill: median {pm_median:.2f} s")
        print(f"ratio nbtrack/papermill {ratio:.3f} (goal <= {GOAL_RATIO}: {verdict})")

        sweep = [*NBTRACK, "sweep", str(notebook), "--grid", "lr=0.1,0.2,0.3,0.4"]
        sweep += ["--grid", "batch=32,64", "--metric", "total", "--no-progress"]
        serial, parallel = [], []
        for attempt in range(max(1, tries // 2)):
            serial.append(timed([*sweep, "--jobs", "1"], env, work))
            parallel.append(timed([*sweep, "--jobs", "2"], env, work))
            print(
                f"  try {attempt + 1}: sweep of 8 --jobs 1 {serial[-1]:.2f} s, "
                f"--jobs 2 {parallel[-1]:.2f} s"
            )
        serial_median, parallel_median = statistics.median(serial), statistics.median(parallel)
        speedup = serial_median / parallel_median
        print(
            f"sweep of 8: --jobs 1 {serial_median:.2f} s, --jobs 2 {parallel_median:.2f} s, "
            f"speedup {speedup:.2f}x (ratio jobs2/jobs1 {parallel_median / serial_median:.3f})"
        )
    print(f"load at the end {load_average()}")

    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(
        json.dumps(
            {
                "when": dt.datetime.now(dt.UTC).isoformat(),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "tries": tries,
                "nbtrack_run_s": nbtrack_times,
                "papermill_s": papermill_times,
                "ratio_nbtrack_papermill": ratio,
                "goal_ratio": GOAL_RATIO,
                "sweep8_jobs1_s": serial,
                "sweep8_jobs2_s": parallel,
                "sweep_speedup": speedup,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
