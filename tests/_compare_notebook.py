"""notebooks/compare.ipynb for the tests: read it, add a run, execute it headless."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

COMPARE = Path(__file__).parents[1] / "notebooks" / "compare.ipynb"
#: The run names the notebook logs (its ``parameters`` cell), in order.
RUN_NAMES = ["baseline", "wide lr", "no dropout"]
LIVE_STEPS = 60
#: Code cells by role: their cell ids.
CELL = {
    "log": "compare-03",
    "table": "compare-05",
    "chart": "compare-07",
    "compare": "compare-09",
    "live": "compare-11",
}


def cell(nb: NotebookNode, role: str) -> NotebookNode:
    """The cell of ``role`` (a key of :data:`CELL`)."""
    return next(c for c in nb.cells if c.get("id") == CELL[role])


def index(nb: NotebookNode, role: str) -> int:
    """The position of the cell of ``role``."""
    return next(i for i, c in enumerate(nb.cells) if c.get("id") == CELL[role])


def read_compare(extra_run: str | None = None) -> NotebookNode:
    """The notebook; ``extra_run`` adds a 4th run of that name (papermill-style injection)."""
    nb = nbformat.read(COMPARE, as_version=4)
    assert "parameters" in nb.cells[1].metadata.get("tags", [])
    assert "log_batch" in cell(nb, "log").source
    assert "nbtrack.ui.live" in cell(nb, "live").source
    if extra_run is not None:
        nb = copy.deepcopy(nb)
        injected = nbformat.v4.new_code_cell(
            f"configs = [*configs, ({extra_run!r}, 0.2, 0.1)]", id="injected-parameters"
        )
        nb.cells.insert(2, injected)
    return nb


def execute(nb: NotebookNode, cwd: Path, store: Path) -> None:
    """Run ``nb`` in place in a fresh python3 kernel logging to ``store``.

    The widget state nbclient saves is dropped afterwards: JupyterLab does not save
    it by default, and exporters then show each output's static fallback.
    (``store_widget_state=False`` is no way round: nbclient 0.11 raises a KeyError
    on an ``Output`` widget then.)
    """
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute(env={**os.environ, "NBTRACK_TRACKING_URI": str(store)})
    nb.metadata.pop("widgets", None)
