"""Cell-by-cell diff of two runs' notebooks: added, removed, changed source, changed outputs.

The notebooks are the runs' ``notebook.ipynb`` snapshots, else
``executed.ipynb``, else the executed-cell timeline. Cells are aligned by
their ids where both notebooks have them, by source otherwise
(:class:`difflib.SequenceMatcher`); changed sources get a line diff.
"""

from __future__ import annotations

from collections.abc import Sequence

from nbtrack._cell_diff import (
    SNAPSHOTS,
    Cell,
    CellChange,
    cells_of_notebook,
    diff_cells,
    load_cells,
    summary,
)
from nbtrack.ui._html import esc

__all__ = [
    "SNAPSHOTS",
    "Cell",
    "CellChange",
    "cells_of_notebook",
    "diff_cells",
    "diff_html",
    "diff_text",
    "load_cells",
    "summary",
]

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
