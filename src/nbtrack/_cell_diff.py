"""Cell-by-cell diff of two runs' notebooks, as data: added, removed, changed source, outputs.

The notebooks are the runs' ``notebook.ipynb`` snapshots, else
``executed.ipynb``, else the executed-cell timeline. Cells are aligned by
their ids where both notebooks have them, by source otherwise
(:class:`difflib.SequenceMatcher`); changed sources get a line diff.

Shared by the compare panel (``nbtrack.ui``) and the server extension's compare
endpoint, so it imports no UI library.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nbtrack._artifact_names import EXECUTED_FILE, SNAPSHOT_FILE
from nbtrack.client import TrackingClient
from nbtrack.exceptions import NotFoundError

logger = logging.getLogger(__name__)

SNAPSHOTS = (SNAPSHOT_FILE, EXECUTED_FILE)


@dataclass(frozen=True)
class Cell:
    """What the diff compares of a cell."""

    cell_id: str | None
    source: str
    outputs: str


@dataclass(frozen=True)
class CellChange:
    """One entry of the diff. ``kind``: added, removed, source, outputs or same."""

    kind: str
    old: Cell | None
    new: Cell | None

    def line_diff(self) -> list[str]:
        """``difflib.unified_diff`` lines of the sources (no header)."""
        old = self.old.source.splitlines() if self.old else []
        new = self.new.source.splitlines() if self.new else []
        return list(difflib.unified_diff(old, new, lineterm="", n=2))[2:]


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _output_text(outputs: Sequence[dict[str, Any]]) -> str:
    parts = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(_text(out.get("text")))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            parts.append(_text(data.get("text/plain", "[" + ", ".join(sorted(data)) + "]")))
        elif kind == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "\n".join(parts)


def cells_of_notebook(notebook: dict[str, Any]) -> list[Cell]:
    """The cells of a notebook (nbformat 4 JSON), outputs reduced to their text."""
    return [
        Cell(cell.get("id"), _text(cell.get("source")), _output_text(cell.get("outputs", [])))
        for cell in notebook.get("cells", [])
    ]


def load_cells(client: TrackingClient, run_id: str) -> tuple[list[Cell], str]:
    """A run's cells and where they came from (a snapshot's name or ``timeline``)."""
    for name in SNAPSHOTS:
        try:
            data = client.read_artifact(run_id, name)
        except NotFoundError:
            logger.debug("run %s has no %s", run_id, name)
            continue
        return cells_of_notebook(json.loads(data)), name
    events = client.get_cell_timeline(run_id)
    return [Cell(e.cell_id, e.source, "") for e in events], "timeline"


def diff_cells(old: Sequence[Cell], new: Sequence[Cell]) -> list[CellChange]:
    """Align two cell lists and classify every cell."""
    use_ids = all(c.cell_id for c in [*old, *new]) and bool(
        {c.cell_id for c in old} & {c.cell_id for c in new}
    )
    keys_a = [c.cell_id if use_ids else c.source for c in old]
    keys_b = [c.cell_id if use_ids else c.source for c in new]
    changes: list[CellChange] = []
    matcher = difflib.SequenceMatcher(a=keys_a, b=keys_b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for a, b in zip(old[i1:i2], new[j1:j2], strict=True):
                kind = "source" if a.source != b.source else "same"
                if kind == "same" and a.outputs != b.outputs:
                    kind = "outputs"
                changes.append(CellChange(kind, a, b))
            continue
        pairs = min(i2 - i1, j2 - j1) if op == "replace" and not use_ids else 0
        for k in range(pairs):
            changes.append(CellChange("source", old[i1 + k], new[j1 + k]))
        changes.extend(CellChange("removed", a, None) for a in old[i1 + pairs : i2])
        changes.extend(CellChange("added", None, b) for b in new[j1 + pairs : j2])
    return changes


def summary(changes: Sequence[CellChange]) -> dict[str, int]:
    """How many cells of each kind."""
    counts = dict.fromkeys(("added", "removed", "source", "outputs", "same"), 0)
    for change in changes:
        counts[change.kind] += 1
    return counts
