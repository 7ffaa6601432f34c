"""Lint, format and type checks run as part of the test suite, so CI enforces them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PYTHON_DIRS = [d for d in ("src", "tests", "bench") if (ROOT / d).is_dir()]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff comes with the test extra")
def test_ruff_check() -> None:
    result = _run("ruff", "check", *PYTHON_DIRS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff comes with the test extra")
def test_ruff_format() -> None:
    result = _run("ruff", "format", "--check", *PYTHON_DIRS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_is_light() -> None:
    """`import nbtrack` must not pull in SQLAlchemy, pandas, Alembic or plotting libraries."""
    code = (
        "import sys, nbtrack; "
        "heavy = [m for m in ('sqlalchemy', 'pandas', 'alembic', 'matplotlib', 'numpy') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
