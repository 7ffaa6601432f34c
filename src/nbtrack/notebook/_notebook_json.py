"""Notebooks as JSON: a frontend's or a file's data checked as nbformat v4, and stored bytes.

Shared by the live channel (:mod:`nbtrack.notebook._comm`), the snapshots
(:mod:`nbtrack.notebook._snapshot`) and ``nbtrack reproduce``; it imports
neither of the first two, so they don't import each other in a circle.
"""

from __future__ import annotations

import re
from typing import TypeGuard

import nbformat
from nbformat import NotebookNode
from nbformat.v4.rwbase import rejoin_lines, strip_transient

__all__ = ["CELL_ID", "InvalidNotebookError", "notebook_bytes", "parse_notebook"]

#: nbformat 4.5's rule for cell ids.
CELL_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")


class InvalidNotebookError(ValueError):
    """The data is not a valid nbformat v4 notebook."""


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_notebook(data: object) -> NotebookNode:
    """``data`` (a JSON object) as a valid nbformat v4 notebook; raises InvalidNotebookError.

    Missing or duplicate cell ids are rejected here, before ``nbformat.validate``:
    it would otherwise "repair" them with random ids and a warning, and random
    ids would break byte-identical snapshots. The result is a copy of ``data``,
    in nbformat's in-memory form (sources as strings).
    """
    if not isinstance(data, dict):
        raise InvalidNotebookError(f"a notebook is a JSON object, not {type(data).__name__}")
    major, minor, cells = data.get("nbformat"), data.get("nbformat_minor"), data.get("cells")
    if not _is_int(major) or major != 4:
        raise InvalidNotebookError(f"nbformat is {major!r}; only version 4 is accepted")
    if not _is_int(minor):
        raise InvalidNotebookError(f"nbformat_minor is {minor!r}, not an integer")
    if not isinstance(cells, list) or not all(isinstance(cell, dict) for cell in cells):
        raise InvalidNotebookError("cells is not a list of objects")
    if minor >= 5:
        ids = [cell.get("id") for cell in cells]
        if not all(isinstance(cell_id, str) for cell_id in ids):
            raise InvalidNotebookError("a cell has no id (required since nbformat 4.5)")
        if len(set(ids)) != len(ids):
            raise InvalidNotebookError("cell ids are not unique")
    notebook: NotebookNode = nbformat.from_dict(data)
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as exc:
        # The message quotes the offending cell, outputs and all: keep log lines short.
        message = exc.message if len(exc.message) <= 300 else exc.message[:300] + "..."
        raise InvalidNotebookError(f"invalid notebook: {message}") from exc
    # As nbformat.reads does, once the shape is known good: a file's line lists
    # joined into strings, transient keys (orig_nbformat, trusted) dropped.
    result: NotebookNode = strip_transient(rejoin_lines(notebook))
    return result


def notebook_bytes(notebook: NotebookNode) -> bytes:
    """The notebook as stored: ``nbformat.writes`` (sorted keys, stable) in UTF-8."""
    text: str = nbformat.writes(notebook)
    return text.encode("utf-8")
