"""How the background writer stores one drained batch in an open transaction.

Rows of one kind are grouped and written with one statement per table
(see :mod:`._writer_statements`); metric points go through
:mod:`._writer_metrics`. Order is kept where it matters: rows of one kind
keep theirs (the last value of a tag or step wins), and a queued statement
(a status change, a tag deletion) runs only after every row queued before it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa

from nbtrack.store._writer_metrics import write_metrics
from nbtrack.store._writer_ops import (
    OP_CELL,
    OP_METRIC,
    OP_METRICS,
    OP_PARAM,
    OP_TAG,
    value_row,
)
from nbtrack.store._writer_statements import WriterStatements


class BatchWriter:
    """Writes batches of queued operations; owned by the writer thread."""

    def __init__(self, engine: sa.Engine) -> None:
        self._statements = WriterStatements(engine)
        self._key_ids: dict[str, int] = {}

    def forget_key_ids(self) -> None:
        """Drop cached metric-name ids (those made in a rolled-back transaction are gone)."""
        self._key_ids.clear()

    def apply(self, conn: sa.Connection, batch: list[tuple[Any, ...]]) -> None:
        """Write a batch in ``conn``'s transaction, grouping rows by table between statements."""
        groups: dict[int, list[tuple[Any, ...]]] = {
            OP_METRIC: [],
            OP_METRICS: [],
            OP_PARAM: [],
            OP_TAG: [],
            OP_CELL: [],
        }
        metrics = groups[OP_METRICS] = groups[OP_METRIC]  # both kinds, in order
        for op in batch:
            group = groups.get(op[0])
            if group is not None:
                group.append(op)
                continue
            _, statement, _ = op  # OP_STATEMENT
            self._write_groups(conn, groups, metrics)
            conn.execute(statement)
        self._write_groups(conn, groups, metrics)

    def _write_groups(
        self,
        conn: sa.Connection,
        groups: dict[int, list[tuple[Any, ...]]],
        metrics: list[tuple[Any, ...]],
    ) -> None:
        """Write the rows grouped so far, and empty the groups."""
        params, tags, cells = groups[OP_PARAM], groups[OP_TAG], groups[OP_CELL]
        if params:
            self._statements.params.run(conn, [value_row(op) for op in params])
            params.clear()
        if tags:
            self._statements.tags.run(conn, [value_row(op) for op in tags])
            tags.clear()
        if metrics:
            write_metrics(conn, self._statements, self._key_ids, metrics)
            metrics.clear()
        if cells:
            self._write_cells(conn, cells)
            cells.clear()

    def _write_cells(self, conn: sa.Connection, ops: list[tuple[Any, ...]]) -> None:
        # A cell's "running" entry and its final one usually share a batch:
        # only the last entry per (run, seq) is written, each source hashed once.
        last: dict[tuple[int, int], tuple[Any, ...]] = {}
        for op in ops:
            _, run_pk, seq, *_ = op
            last[(run_pk, seq)] = op
        shas: dict[str, str] = {}
        rows = []
        for op in last.values():
            (_, run_pk, seq, cell_id, count, source, start, duration, outcome, etype, emsg) = op
            # Cell text comes unchecked from the kernel (an exception message may quote
            # an undecodable file name, or hold a NUL): those characters are replaced,
            # not fatal.
            source, cell_id, etype, emsg = (
                _storable(source),
                _storable(cell_id),
                _storable(etype),
                _storable(emsg),
            )
            sha = shas.get(source)
            if sha is None:
                sha = shas[source] = hashlib.sha256(
                    source.encode("utf-8", "surrogatepass")
                ).hexdigest()
            rows.append((run_pk, seq, cell_id, count, sha, start, duration, outcome, etype, emsg))
        self._statements.sources.run(conn, [(sha, source) for source, sha in shas.items()])
        self._statements.cells.run(conn, rows)


def _storable(text: Any) -> Any:
    """``text`` with lone surrogates (which have no UTF-8 form) and NUL characters
    (which PostgreSQL text cannot hold; replaced on SQLite too, alike) as U+FFFD."""
    if type(text) is not str:
        return text
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16 with surrogatepass: a surrogate pair becomes its character,
        # a lone surrogate U+FFFD.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text
