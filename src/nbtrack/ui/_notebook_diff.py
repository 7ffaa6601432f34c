"""Cell-by-cell diff of two runs' notebooks: added, removed, changed source, changed outputs.

The notebooks are the runs' ``notebook.ipynb`` snapshots, else
``executed.ipynb``, else the executed-cell timeline. Cells are aligned by
their ids where both notebooks have them, by source otherwise
(:class:`difflib.SequenceMatcher`); changed sources get a line diff.
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
from nbtrack.ui._html import esc

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


_LABELS = {
    "added": "added",
    "removed": "removed",
    "source": "changed source",
    "outputs": "changed outputs",
}


def _pre(text: str, limit: int = 4000) -> str:
    cut = text if len(text) <= limit else text[:limit] + "\n…"
    return f"<pre>{esc(cut)}</pre>"


def _diff_lines(change: CellChange) -> str:
    lines = []
    for line in change.line_diff():
        cls = {"+": "added", "-": "removed"}.get(line[:1], "")
        lines.append(f'<span class="{cls}">{esc(line)}</span>' if cls else esc(line))
    return "<pre>" + "\n".join(lines) + "</pre>"


def diff_html(changes: Sequence[CellChange], labels: tuple[str, str]) -> str:
    """The diff as HTML: changed cells in full, unchanged ones folded away."""
    counts = summary(changes)
    head = (
        f"<h4>Notebook diff: {esc(labels[0])} → {esc(labels[1])}</h4>"
        f"<p>{counts['added']} added, {counts['removed']} removed, "
        f"{counts['source']} changed source, {counts['outputs']} changed outputs, "
        f"{counts['same']} unchanged</p>"
    )
    blocks = []
    same = 0
    for change in changes:
        if change.kind == "same":
            same += 1
            continue
        if change.kind == "added" and change.new:
            body = _pre(change.new.source)
        elif change.kind == "removed" and change.old:
            body = _pre(change.old.source)
        elif change.kind == "source":
            body = _diff_lines(change)
        else:
            body = _pre(change.new.source if change.new else "")
        old, new = change.old, change.new
        if change.kind in ("source", "outputs") and old and new and old.outputs != new.outputs:
            body += (
                "<details><summary>outputs changed</summary>"
                f"<b>before</b>{_pre(old.outputs, 1000)}"
                f"<b>after</b>{_pre(new.outputs, 1000)}</details>"
            )
        blocks.append(
            f'<div class="nbtrack-cell {change.kind if change.kind != "source" else "changed"}" '
            f'data-change="{change.kind}"><b>{_LABELS[change.kind]}</b>{body}</div>'
        )
    if not blocks:
        blocks.append("<p>the notebooks' cells are identical</p>")
    return head + "".join(blocks) + (f"<p>({same} unchanged cells not shown)</p>" if same else "")


def diff_text(changes: Sequence[CellChange]) -> str:
    """The diff as plain text (terminals)."""
    out = []
    for change in changes:
        if change.kind == "same":
            continue
        cell = change.new or change.old
        first = (cell.source.splitlines() or [""])[0] if cell else ""
        out.append(f"{_LABELS[change.kind]}: {first[:70]}")
        if change.kind == "source":
            out.extend("    " + line for line in change.line_diff())
    counts = summary(changes)
    out.append(", ".join(f"{v} {k}" for k, v in counts.items()))
    return "\n".join(out)
