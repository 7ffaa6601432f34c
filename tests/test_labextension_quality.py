"""The labextension's own checks (prettier, eslint, tsc, vitest), run from pytest for CI.

``pip install -e .`` runs ``npm install`` through hatch-jupyter-builder, so node_modules
exists wherever Node does; without it the checks cannot run and are skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("npm") is None or not (ROOT / "node_modules").is_dir(),
    reason="labextension checks need npm and node_modules (run `npm install` at the repo root)",
)


def _npm(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["npm", "run", "--silent", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_lint_and_types() -> None:
    """prettier --check, eslint (typescript-eslint, no HTML sinks) and tsc on sources and tests."""
    result = _npm("lint:check")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]


def test_unit_tests() -> None:
    """vitest: API client, formatting, run ordering, filter box, sidebar, comm protocol."""
    result = _npm("test")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
