"""The SQL the background writer runs, compiled once per engine (see :mod:`._writer`).

Column orders here are the row shapes the writer hands over: metric rows
``(run_pk, key_id, step, timestamp, value)`` and latest-value rows with the
series' min and max added.
"""

from __future__ import annotations

import sqlalchemy as sa

from nbtrack.store import _dialect, schema

#: A metric row as queued by ``log_metric``/``log_batch`` and inserted by the writer.
METRIC_ROW_COLUMNS = ["run_pk", "key_id", "step", "timestamp", "value"]
#: A latest_metrics row: the top step's point and the extremes of the series.
LATEST_ROW_COLUMNS = [
    "run_pk",
    "key_id",
    "step",
    "timestamp",
    "value",
    "min_value",
    "max_value",
]


def intern_keys(conn: sa.Connection, keys: set[str]) -> dict[str, int]:
    """Ids of metric names, creating the missing ones."""
    table = schema.metric_keys
    conn.execute(_dialect.upsert(table, ["key"]), [{"key": k} for k in sorted(keys)])
    rows = conn.execute(sa.select(table.c.key, table.c.key_id).where(table.c.key.in_(keys)))
    return dict(rows.all())


class WriterStatements:
    """The writer's statements, compiled once for the engine's dialect."""

    def __init__(self, engine: sa.Engine) -> None:
        metrics, latest = schema.metrics, schema.latest_metrics
        self.metrics = _dialect.BulkStatement(
            engine,
            _dialect.upsert(
                metrics,
                ["run_pk", "key_id", "step"],
                {
                    "timestamp": _dialect.excluded(metrics, "timestamp"),
                    "value": _dialect.excluded(metrics, "value"),
                },
            ),
            METRIC_ROW_COLUMNS,
            copy=True,  # PostgreSQL: COPY a batch of new points (see _pg_bulk)
        )
        newer = _dialect.excluded(latest, "step") >= latest.c.step
        self.latest = _dialect.BulkStatement(
            engine,
            _dialect.upsert(
                latest,
                ["run_pk", "key_id"],
                {
                    # SET expressions all read the old row, so order does not matter.
                    "step": sa.case(
                        (newer, _dialect.excluded(latest, "step")), else_=latest.c.step
                    ),
                    "timestamp": sa.case(
                        (newer, _dialect.excluded(latest, "timestamp")), else_=latest.c.timestamp
                    ),
                    "value": sa.case(
                        (newer, _dialect.excluded(latest, "value")), else_=latest.c.value
                    ),
                    "min_value": _dialect.least(
                        latest.c.min_value, _dialect.excluded(latest, "min_value")
                    ),
                    "max_value": _dialect.greatest(
                        latest.c.max_value, _dialect.excluded(latest, "max_value")
                    ),
                },
            ),
            LATEST_ROW_COLUMNS,
        )
        # A param keeps its first value: the client refuses a different one.
        self.params = _dialect.BulkStatement(
            engine,
            _dialect.upsert(schema.params, ["run_pk", "key"]),
            ["run_pk", "key", "value", "cell_seq"],
        )
        tags = schema.tags
        self.tags = _dialect.BulkStatement(
            engine,
            _dialect.upsert(
                tags,
                ["run_pk", "key"],
                {
                    "value": _dialect.excluded(tags, "value"),
                    "cell_seq": _dialect.excluded(tags, "cell_seq"),
                },
            ),
            ["run_pk", "key", "value", "cell_seq"],
        )
        spans = schema.metric_cells
        self.metric_cells = _dialect.BulkStatement(
            engine,
            _dialect.upsert(
                spans,
                ["run_pk", "key_id", "cell_seq"],
                {
                    "first_step": _dialect.least(
                        spans.c.first_step, _dialect.excluded(spans, "first_step")
                    ),
                    "last_step": _dialect.greatest(
                        spans.c.last_step, _dialect.excluded(spans, "last_step")
                    ),
                    "count": spans.c.count + _dialect.excluded(spans, "count"),
                },
            ),
            ["run_pk", "key_id", "cell_seq", "first_step", "last_step", "count"],
        )
        window = sa.and_(
            metrics.c.run_pk == sa.bindparam("run_pk"),
            metrics.c.key_id == sa.bindparam("key_id"),
        )
        self.latest_exact = _dialect.BulkStatement(
            engine,
            _dialect.upsert(
                latest,
                ["run_pk", "key_id"],
                {
                    column: _dialect.excluded(latest, column)
                    for column in LATEST_ROW_COLUMNS
                    if column not in ("run_pk", "key_id")
                },
            ),
            LATEST_ROW_COLUMNS,
        )
        self.extremes = _dialect.PreparedQuery(
            engine,
            sa.select(
                sa.func.min(metrics.c.value),
                sa.func.max(metrics.c.value),
                sa.func.max(metrics.c.step),
            ).where(window, metrics.c.step.between(sa.bindparam("low"), sa.bindparam("high"))),
            ["run_pk", "key_id", "low", "high"],
        )
        self.point = _dialect.PreparedQuery(
            engine,
            sa.select(metrics.c.timestamp, metrics.c.value).where(
                window, metrics.c.step == sa.bindparam("step")
            ),
            ["run_pk", "key_id", "step"],
        )
        # The last stored step of a series: where auto-assigned steps continue.
        self.max_step = _dialect.PreparedQuery(
            engine, sa.select(sa.func.max(metrics.c.step)).where(window), ["run_pk", "key_id"]
        )
        # SQLite's BEGIN IMMEDIATE already serialises writers; other backends lock the
        # run's row before reading its last steps, so two processes never take the same.
        # FOR NO KEY UPDATE, not FOR UPDATE: the rows this transaction already inserted
        # hold a key-share lock on the run (their foreign key), which FOR UPDATE would
        # wait for in the other writer -- a deadlock between two writers of one run.
        runs = schema.runs
        self.lock_run: _dialect.PreparedQuery | None = (
            None
            if _dialect.is_sqlite(engine)
            else _dialect.PreparedQuery(
                engine,
                sa.select(runs.c.run_pk)
                .where(runs.c.run_pk == sa.bindparam("run_pk"))
                .with_for_update(key_share=True),
                ["run_pk"],
            )
        )
        self.sources = _dialect.BulkStatement(
            engine, _dialect.upsert(schema.cell_sources, ["sha256"]), ["sha256", "source"]
        )
        cells = schema.cells
        cell_columns = [
            "run_pk",
            "seq",
            "cell_id",
            "execution_count",
            "source_sha256",
            "start_time",
            "duration_ms",
            "outcome",
            "error_type",
            "error_message",
        ]
        self.cells = _dialect.BulkStatement(
            engine,
            _dialect.upsert(
                cells,
                ["run_pk", "seq"],
                {name: _dialect.excluded(cells, name) for name in cell_columns[2:]},
            ),
            cell_columns,
        )
