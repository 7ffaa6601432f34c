"""MLflow's own test functions, run against nbtrack through ``import mlflow`` -> nbtrack.

The test functions are MLflow's (https://github.com/mlflow/mlflow, Apache-2.0),
copied with their origin in ``mlflow_source/`` (see its NOTICE.md; commits in
README.md). ``NBTRACK_MLFLOW_SOURCE`` runs the same selection from another
directory holding those paths (a checkout of MLflow). MLflow files that are read
from its repository but not kept in this one (``tests/tracking/test_client.py``, see
README.md) are taken from ``mlflow_local/`` when present. ``selection.py`` lists the
selected tests and the knowingly different ones (run as strict xfails).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlflow_compat.selection import SELECTED, mlflow_file

ROOT = Path(__file__).parents[2]


def selected_files() -> list[Path]:
    """Each selected MLflow file that is here: from SOURCE, else from ``mlflow_local/``."""
    return [file for file in map(mlflow_file, SELECTED) if file is not None]


def _run_suite(target: str) -> subprocess.CompletedProcess[str]:
    files = [str(path) for path in selected_files()]
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
            f"--rootdir={Path(__file__).parent}",
            f"--confcutdir={Path(__file__).parent}",
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
