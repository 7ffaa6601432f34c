"""What autolog adds to a small scikit-learn fit (goal: <= 5 ms), nbtrack vs MLflow.

Usage::

    python bench/bench_autolog.py            # 40 fits per case (MLflow: 10)
    python bench/bench_autolog.py --quick    # 10 fits per case (MLflow: 3)

Each case runs in a fresh process with its own store in a fresh temp directory:
``DecisionTreeClassifier(max_depth=3).fit(X, y)`` on iris (150 x 4), inside one
active run, after one warm-up fit; the figure is the median wall time of a fit.
Cases: no autolog (the reference), ``nbtrack.sklearn.autolog`` with
``log_models=False`` and with the default ``log_models=True``, and MLflow's
``mlflow.sklearn.autolog`` the same two ways (SQLite tracking store, telemetry off).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

CASE = """
import json, os, statistics, sys, time
lib, log_models, fits = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
X, y = load_iris(return_X_y=True)
if lib == "mlflow":
    import mlflow as tracking
    tracking.set_tracking_uri("sqlite:///" + os.path.abspath("mlflow.db"))
else:
    import nbtrack as tracking
if lib != "none":
    tracking.sklearn.autolog(log_models=log_models, silent=True)
times = []
with tracking.start_run():
    DecisionTreeClassifier(max_depth=3).fit(X, y)
    for _ in range(fits):
        model = DecisionTreeClassifier(max_depth=3)
        start = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - start)
print(json.dumps(statistics.median(times)))
"""


def run_case(lib: str, log_models: bool, fits: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(SRC), MLFLOW_DISABLE_TELEMETRY="true")
    with tempfile.TemporaryDirectory() as tmp:
        env["NBTRACK_TRACKING_URI"] = str(Path(tmp) / ".nbtrack")
        out = subprocess.run(
            [sys.executable, "-c", CASE, lib, "1" if log_models else "0", str(fits)],
            cwd=tmp, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    fits, mlflow_fits = (10, 3) if args.quick else (40, 10)
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    base = run_case("none", False, fits)
    print(f"fit without autolog: {base * 1e3:.2f} ms")
    for log_models in (False, True):
        ours = run_case("nbtrack", log_models, fits)
        theirs = run_case("mlflow", log_models, mlflow_fits)
        added, added_mlflow = ours - base, theirs - base
        verdict = "PASS" if added <= 0.005 else "MISS"
        goal = f"(goal <= 5 ms) {verdict}" if not log_models else "(model files written)"
        print(
            f"log_models={log_models}: nbtrack adds {added * 1e3:.1f} ms {goal}; "
            f"MLflow adds {added_mlflow * 1e3:.1f} ms ({added_mlflow / added:.0f}x nbtrack's)"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
