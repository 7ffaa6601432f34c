"""The subprocess worker script (tests/helpers/worker.py), loadable as a module.

Tests import it for the values its children log (the same functions compute
what they expect).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

WORKER = Path(__file__).parent / "helpers" / "worker.py"


def load_worker() -> ModuleType:
    """tests/helpers/worker.py as a module."""
    spec = importlib.util.spec_from_file_location("nbtrack_test_worker", WORKER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
