"""A run's notebook snapshot, and the notebook of what actually ran.

:func:`take_snapshot` picks the best copy of the notebook it can get:

1. ``"live"``: the latest notebook the JupyterLab extension sent over the comm
   (:mod:`nbtrack.notebook._comm`), unsaved edits and outputs included;
2. ``"file"``: the notebook file on disk, found by :mod:`nbtrack.notebook._session`;
3. ``"timeline"``: a notebook rebuilt from the run's cell timeline.

Whatever the source, the result is a valid nbformat v4 notebook, written with
``nbformat.writes`` (sorted keys, fixed indentation) so an unchanged notebook
always gives the same bytes and content-addressed storage stores it once.
:func:`notebook_from_timeline` is also the run's "executed.ipynb": each cell in
the order it ran, repeats included.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from nbformat import NotebookNode, v4

from nbtrack.notebook._notebook_json import (
    CELL_ID,
    notebook_bytes,
    parse_notebook,
)
from nbtrack.notebook._session import find_notebook_path

if TYPE_CHECKING:
    from nbtrack.entities import CellEvent
    from nbtrack.notebook._comm import SnapshotChannel

logger = logging.getLogger(__name__)


def _unique_id(event: CellEvent, used: set[str]) -> str:
    """The event's cell id when valid and not taken yet, else a deterministic one.

    Random ids (nbformat's default) would make two snapshots of the same
    timeline differ; a cell run twice needs a second id, as ids are unique.
    """
    cell_id = event.cell_id
    if cell_id is not None and CELL_ID.fullmatch(cell_id) and cell_id not in used:
        return cell_id
    candidate, n = f"nbtrack-{event.seq}", 1
    while candidate in used:
        n += 1
        candidate = f"nbtrack-{event.seq}-{n}"
    return candidate


def notebook_from_timeline(events: Sequence[CellEvent], language: str = "python") -> NotebookNode:
    """A notebook of one code cell per executed cell, in execution (``seq``) order.

    Cells keep their execution count and, when valid and unique, their cell id
    (the original id is also in the cell's ``nbtrack`` metadata). A failed cell
    gets an error output with its exception type and message (no traceback:
    the timeline does not keep one). Same events, same notebook, same bytes.
    """
    cells: list[dict[str, Any]] = []
    used: set[str] = set()
    for event in sorted(events, key=lambda e: e.seq):
        cell_id = _unique_id(event, used)
        used.add(cell_id)
        count = event.execution_count
        outputs = []
        if event.outcome == "error":
            outputs.append(
                v4.new_output(
                    "error",
                    ename=event.error_type or "Error",
                    evalue=event.error_message or "",
                    traceback=[],
                )
            )
        cells.append(
            {
                "id": cell_id,
                "cell_type": "code",
                "source": event.source,
                "execution_count": count if count is not None and count >= 0 else None,
                "outputs": outputs,
                "metadata": {
                    "nbtrack": {
                        "seq": event.seq,
                        "cell_id": event.cell_id,
                        "outcome": event.outcome,
                        "start_time": event.start_time,
                        "duration_ms": event.duration_ms,
                        "error_type": event.error_type,
                        "error_message": event.error_message,
                    }
                },
            }
        )
    notebook: NotebookNode = nbformat.from_dict(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {"language_info": {"name": language}, "nbtrack": {"source": "timeline"}},
            "cells": cells,
        }
    )
    nbformat.validate(notebook)  # built to be valid: a failure here is a bug, so let it show
    return notebook


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A notebook snapshot: the notebook, where it came from, and its stored bytes.

    ``source`` is ``"live"``, ``"file"`` or ``"timeline"``. ``path`` is the
    file for ``"file"``, the frontend's server-relative path for ``"live"``
    (None if it sent none), and None for ``"timeline"``.
    """

    notebook: NotebookNode
    source: str
    path: Path | None
    content: bytes

    @classmethod
    def of(cls, notebook: NotebookNode, source: str, path: Path | None) -> Snapshot:
        """A snapshot of ``notebook`` with its bytes from :func:`notebook_bytes`."""
        return cls(notebook, source, path, notebook_bytes(notebook))


def _live(channel: SnapshotChannel | None, max_age_s: float) -> Snapshot | None:
    if channel is None:
        logger.debug("snapshot: live skipped: no comm channel (not in a kernel?)")
        return None
    latest = channel.latest()
    if latest is None:
        logger.debug("snapshot: live skipped: the frontend sent no notebook yet")
        return None
    notebook, path, received_at = latest
    age = time.time() - received_at
    # An open frontend sends every change, so its latest copy is current even
    # when old (a long cell delays its messages, it does not make them stale).
    if age > max_age_s and not channel.connected:
        logger.debug(
            "snapshot: live skipped: copy is %.1f s old (max %.1f s) and the frontend is gone",
            age,
            max_age_s,
        )
        return None
    return Snapshot.of(notebook, "live", Path(path) if path is not None else None)


def _from_file(user_ns: Mapping[str, Any]) -> Snapshot | None:
    path, how = find_notebook_path(user_ns)
    if path is None:
        logger.debug("snapshot: file skipped: the notebook's path was not found")
        return None
    try:
        notebook = parse_notebook(json.loads(path.read_bytes()))
    except (OSError, ValueError) as exc:  # unreadable, bad JSON or UTF-8, InvalidNotebookError
        logger.debug("snapshot: file skipped: %s (from %s): %s", path, how, exc)
        return None
    return Snapshot.of(notebook, "file", path)


def take_snapshot(
    channel: SnapshotChannel | None,
    user_ns: Mapping[str, Any],
    events: Sequence[CellEvent],
    max_age_s: float = 30.0,
) -> Snapshot:
    """The best available copy of the notebook: live, else the file, else the timeline.

    The live copy is used when it arrived within ``max_age_s`` or the frontend
    is still connected. Each source passed over is logged at debug level with
    the reason. Never raises for a missing or bad source; always valid.
    """
    snapshot = _live(channel, max_age_s) or _from_file(user_ns)
    if snapshot is not None:
        return snapshot
    return Snapshot.of(notebook_from_timeline(events), "timeline", None)
