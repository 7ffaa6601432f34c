"""A run's cell timeline and the provenance of what it logged (the store side).

The notebook hook calls :meth:`TimelineMixin.begin_cell` before a cell runs
and :meth:`TimelineMixin.end_cell` after: both only enqueue a tuple. While a
cell is open, :attr:`cell_context` tags every value logged to that run with
the cell's ``seq``, which the writer stores in ``params/tags/artifacts.cell_seq``
and as step ranges in ``metric_cells``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nbtrack.entities import CellEvent, MetricProvenance
from nbtrack.store import schema
from nbtrack.store._writer_ops import cell_op

if TYPE_CHECKING:
    from nbtrack.store._writer import BackgroundWriter

MAX_ERROR_MESSAGE = 2000

_cells, _sources = schema.cells, schema.cell_sources
_CELL_COLUMNS = (
    _cells.c.seq,
    _cells.c.cell_id,
    _cells.c.execution_count,
    _sources.c.source,
    _cells.c.start_time,
    _cells.c.duration_ms,
    _cells.c.outcome,
    _cells.c.error_type,
    _cells.c.error_message,
)


def _event(row: Any) -> CellEvent:
    return CellEvent(
        seq=row.seq,
        cell_id=row.cell_id,
        execution_count=row.execution_count,
        source=row.source,
        start_time=row.start_time,
        duration_ms=row.duration_ms,
        outcome=row.outcome,
        error_type=row.error_type,
        error_message=row.error_message,
    )


class TimelineMixin:
    """Cell timeline methods of :class:`~nbtrack.store.sql_store.SqlStore`."""

    writer: BackgroundWriter
    cell_context: tuple[int, int] | None
    _last_cell_seq: dict[int, int]

    def run_pk(self, run_id: str) -> int:  # provided by SqlStore
        raise NotImplementedError

    def _read(self) -> Any:  # provided by SqlStore
        raise NotImplementedError

    def begin_cell(
        self,
        run_id: str,
        cell_id: str | None,
        execution_count: int | None,
        source: str,
        start_ms: int,
    ) -> int:
        """Open a timeline entry (outcome ``running``) and make it the cell context; returns seq."""
        run_pk = self.run_pk(run_id)
        last = self._last_cell_seq.get(run_pk)
        if last is None:
            with self._read() as conn:
                last = conn.execute(
                    sa.select(sa.func.coalesce(sa.func.max(_cells.c.seq), 0)).where(
                        _cells.c.run_pk == run_pk
                    )
                ).scalar_one()
        seq = int(last) + 1
        self._last_cell_seq[run_pk] = seq
        self.writer.put(cell_op(run_pk, seq, cell_id, execution_count, source, start_ms))
        self.cell_context = (run_pk, seq)
        return seq

    def end_cell(
        self,
        run_id: str,
        seq: int,
        cell_id: str | None,
        execution_count: int | None,
        source: str,
        start_ms: int,
        duration_ms: int,
        error: BaseException | None,
    ) -> None:
        """Close a timeline entry with its duration and outcome; clears the cell context."""
        run_pk = self.run_pk(run_id)
        outcome, error_type, message = "ok", None, None
        if error is not None:
            outcome, error_type = "error", type(error).__name__
            message = str(error)[:MAX_ERROR_MESSAGE]
        self.writer.put(
            cell_op(
                run_pk,
                seq,
                cell_id,
                execution_count,
                source,
                start_ms,
                duration_ms,
                outcome,
                error_type,
                message,
            )
        )
        if self.cell_context == (run_pk, seq):
            self.cell_context = None

    def cell_timeline(self, run_id: str) -> list[CellEvent]:
        """Every cell executed while the run was active, in execution order."""
        run_pk = self.run_pk(run_id)
        query = (
            sa.select(*_CELL_COLUMNS)
            .join(_sources, _sources.c.sha256 == _cells.c.source_sha256)
            .where(_cells.c.run_pk == run_pk)
            .order_by(_cells.c.seq)
        )
        with self._read() as conn:
            return [_event(row) for row in conn.execute(query)]

    def metric_provenance(self, run_id: str, key: str) -> list[MetricProvenance]:
        """The cells that logged metric ``key`` of the run, with their step ranges."""
        run_pk = self.run_pk(run_id)
        spans, keys = schema.metric_cells, schema.metric_keys
        query = (
            sa.select(*_CELL_COLUMNS, spans.c.first_step, spans.c.last_step, spans.c.count)
            .join(keys, keys.c.key_id == spans.c.key_id)
            .join(
                _cells, sa.and_(_cells.c.run_pk == spans.c.run_pk, _cells.c.seq == spans.c.cell_seq)
            )
            .join(_sources, _sources.c.sha256 == _cells.c.source_sha256)
            .where(spans.c.run_pk == run_pk, keys.c.key == key)
            .order_by(spans.c.cell_seq)
        )
        with self._read() as conn:
            return [
                MetricProvenance(key, _event(row), row.first_step, row.last_step, row.count)
                for row in conn.execute(query)
            ]

    def value_cells(self, run_id: str) -> dict[str, dict[str, int]]:
        """``{"params"|"tags"|"artifacts": {key or path: cell seq}}`` for values logged in cells."""
        run_pk = self.run_pk(run_id)
        out: dict[str, dict[str, int]] = {}
        with self._read() as conn:
            for name, table, column in (
                ("params", schema.params, schema.params.c.key),
                ("tags", schema.tags, schema.tags.c.key),
                ("artifacts", schema.artifacts, schema.artifacts.c.path),
            ):
                rows = conn.execute(
                    sa.select(column, table.c.cell_seq).where(
                        table.c.run_pk == run_pk, table.c.cell_seq.is_not(None)
                    )
                ).all()
                out[name] = dict(rows)
        return out
