"""MLflow's own test functions, run against nbtrack through ``import mlflow`` -> nbtrack.

The test functions are MLflow's (https://github.com/mlflow/mlflow, Apache-2.0;
files and commits in README.md); they are not copied into this repository.
Point ``NBTRACK_MLFLOW_SOURCE`` at a directory holding MLflow's
``tests/tracking/test_tracking.py`` and ``tests/tracking/fluent/test_fluent.py``
(a checkout of MLflow at those commits) to run them; ``selection.py`` lists the
selected tests and the knowingly different ones (run as strict xfails).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlflow_compat.selection import SELECTED

ROOT = Path(__file__).parents[2]
SOURCE = os.environ.get("NBTRACK_MLFLOW_SOURCE")

pytestmark = pytest.mark.skipif(
    not SOURCE,
    reason="set NBTRACK_MLFLOW_SOURCE to a checkout of MLflow's repository (see README.md)",
)


def _run_suite(target: str) -> subprocess.CompletedProcess[str]:
    assert SOURCE is not None
    files = [str(Path(SOURCE) / path) for path in SELECTED]
    env = {
        **os.environ,
        "NBTRACK_COMPAT_TARGET": target,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(Path(__file__).with_name("pytest-compat.ini")),
            f"--rootdir={SOURCE}",
            "-q",
            "-p",
            "no:warnings",
            *files,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )


@pytest.mark.slow
def test_mlflow_tests_pass_against_nbtrack() -> None:
    """Every selected test passes, except the listed knowing differences (strict xfails)."""
    result = _run_suite("nbtrack")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    selected = sum(len(tests) for tests in SELECTED.values())
    assert "passed" in result.stdout.splitlines()[-1]
    assert selected > 0
