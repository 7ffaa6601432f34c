"""The SQL store: experiments, runs, logged values and artifacts, by run id.

Writes go through the store's :class:`~nbtrack.store._writer.BackgroundWriter`
(logging enqueues and returns; creating a run waits for its row). Reads use
their own pooled connections; in WAL mode they never block the writer. The
store trusts its inputs: validation happens one layer up, in the client.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nbtrack._validation import MAX_STEP, MetricRows, metric_rows, next_step
from nbtrack.entities import (
    DEFAULT_EXPERIMENT_ID,
    ArtifactInfo,
    LifecycleStage,
    Metric,
    Run,
    RunStatus,
)
from nbtrack.exceptions import InvalidInputError, NotFoundError, StoreError
from nbtrack.store import _dialect, _liveness, _probe, _records, locate, migrate, schema
from nbtrack.store._artifact_roots import ArtifactRootsMixin
from nbtrack.store._blob_roots import open_blobs
from nbtrack.store._experiments import ExperimentsMixin, int_id
from nbtrack.store._liveness import now_ms
from nbtrack.store._logged_models import LoggedModelsMixin
from nbtrack.store._maintenance import (
    MaintenanceMixin,
    join_run_statement,
    leave_runs_statement,
)
from nbtrack.store._names import random_run_name
from nbtrack.store._timeline import TimelineMixin
from nbtrack.store._writer import BackgroundWriter
from nbtrack.store._writer_ops import metric_op, metrics_op, param_op, statement_op, tag_op
from nbtrack.store._writer_statements import intern_keys
from nbtrack.store.artifacts import Blobs, parallel_map, safe_destination
from nbtrack.store.queries import _history

if TYPE_CHECKING:
    import pandas as pd

    from nbtrack.store.queries import Queries
    from nbtrack.store.registry import RegistryStore

log = logging.getLogger(__name__)


runs_t = schema.runs
_new_metric = partial(tuple.__new__, Metric)
#: Artifact rows in one statement: 6 values each, under SQLite's oldest limit of 999.
_ARTIFACT_ROWS_PER_STATEMENT = 150


@dataclass(slots=True)
class _RunState:
    """What this process knows of a run it logs to (kept off the database on the hot path)."""

    run_pk: int
    last_steps: dict[str, int] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    #: In the trash (as this process last saw it): logging to it is refused.
    deleted: bool = False
    #: This process is recorded among the run's writers (see ``run_writers``).
    registered: bool = False


class SqlStore(
    ArtifactRootsMixin, ExperimentsMixin, LoggedModelsMixin, MaintenanceMixin, TimelineMixin
):
    """One tracking store (a database plus its blob directory) opened in this process."""

    def __init__(self, uri: str, readonly: bool = False, why_readonly: str = "") -> None:
        """Open the store at ``uri``.

        For writing (the default) a missing store is created and an old schema
        upgraded, once the file is known to be nbtrack's (:mod:`._probe`).
        ``readonly``: nothing is created, migrated or written, not even the
        journal mode; the store must exist at the head schema
        (:class:`StoreError` otherwise) and every write raises :class:`StoreError`
        naming ``why_readonly``.
        """
        self.uri = uri
        self.readonly = readonly
        self._why_readonly = why_readonly or "it was opened for reading only"
        path = _dialect.sqlite_path(sa.make_url(uri))
        postgres = locate.is_postgres_uri(uri)
        if path is None and not postgres:
            if readonly:
                raise InvalidInputError(f"only SQLite stores open read-only, not {uri!r}")
        elif readonly and path is not None:  # nothing created, nothing migrated
            migrate.require_head(_probe.existing_store(uri))
        elif path is not None:  # refused before SQLite switches the file to WAL
            info = _probe.inspect_file(path)
            info.refuse_foreign()
            migrate.refuse_newer(info)
        self.engine = _dialect.create_engine(uri, readonly=readonly)
        recorded = None
        if postgres:  # the schema first: the artifact root is recorded in it
            if readonly:
                migrate.require_head_postgres(self.engine, uri)
            else:
                migrate.ensure_schema(self.engine)
            recorded = self._recorded_artifact_root()
        self.blobs: Blobs = open_blobs(locate.artifact_root_for(uri, recorded))
        self._experiment_blobs: dict[int, Blobs] = {}
        self._runs: dict[str, _RunState] = {}
        # (run_pk, seq) of the notebook cell executing now: values logged to that
        # run while it runs remember the cell (see nbtrack.notebook).
        self.cell_context: tuple[int, int] | None = None
        self._last_cell_seq: dict[int, int] = {}
        self._key_ids: dict[str, int] = {}
        self._writer: BackgroundWriter | None = None
        if readonly:
            return
        migrate.ensure_schema(self.engine)
        self._writer = BackgroundWriter(self.engine)
        self._ensure_default_experiment()
        killed = self.mark_orphaned_runs_killed()
        if killed:
            log.info("nbtrack: marked %d run(s) of dead processes KILLED: %s", len(killed), killed)

    @cached_property
    def queries(self) -> Queries:
        """The read side of this store (:mod:`nbtrack.store.queries`); reads never flush."""
        from nbtrack.store.queries import Queries

        return Queries(self)

    # -- lifecycle ------------------------------------------------------------------

    @property
    def writer(self) -> BackgroundWriter:
        """The store's one background writer; :class:`StoreError` if the store is read-only."""
        self.require_writable()
        assert self._writer is not None
        return self._writer

    @writer.setter
    def writer(self, writer: BackgroundWriter) -> None:  # the mixins declare it an attribute
        self._writer = writer

    @property
    def registry(self) -> RegistryStore:
        """The model registry's reads and writes on this store (:mod:`nbtrack.store.registry`)."""
        from nbtrack.store.registry import RegistryStore

        return RegistryStore(self)

    def require_writable(self) -> None:
        """Raise :class:`StoreError`, saying why, if this store was opened read-only."""
        if self._writer is None:
            raise StoreError(
                f"the store at {locate.store_location(self.uri)} is read-only here "
                f"({self._why_readonly}): nbtrack can read it but not change it. Log to a "
                "store you can write (set NBTRACK_TRACKING_URI or nbtrack.set_tracking_uri)."
            )

    def close(self) -> None:
        """Flush pending writes, stop the writer and release connections.

        This process leaves the writers of its runs: a run it created and did
        not end is marked KILLED at the next open unless another process still
        writes it.
        """
        writer = self._writer
        if writer is not None:
            if writer.is_alive():
                writer.put(statement_op(leave_runs_statement(), "end of this process's writes"))
            writer.close()
        self.engine.dispose()

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything logged so far is durable (nothing to do when read-only)."""
        if self._writer is not None:
            self._writer.flush(timeout)

    def orphaned_run_ids(self) -> list[str]:
        """Ids of RUNNING runs whose process is gone (a read: see ``mark_orphaned_runs_killed``)."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(runs_t.c.run_id, runs_t.c.host, runs_t.c.pid, runs_t.c.heartbeat).where(
                    runs_t.c.status == RunStatus.RUNNING
                )
            ).all()
        now = now_ms()
        alive = _liveness.owner_alive
        return [r.run_id for r in rows if not alive(r.host, r.pid, r.heartbeat, now)]

    def _read(self) -> Any:
        return self.engine.connect()

    def _recorded_artifact_root(self) -> str | None:
        """The Default experiment's artifact location: the store's artifact root, as its
        creator chose it (a PostgreSQL store has no directory of its own)."""
        exp = schema.experiments
        with self._read() as conn:
            found = conn.execute(
                sa.select(exp.c.artifact_location).where(
                    exp.c.experiment_id == DEFAULT_EXPERIMENT_ID
                )
            ).scalar()
        return str(found) if found else None

    # -- runs -----------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        run_name: str | None,
        tags: dict[str, str],
        start_time: int,
        parent_run_id: str | None,
        user_id: str,
    ) -> Run:
        """Insert a RUNNING run owned by this process and return it."""
        exp_id = int_id(experiment_id)
        parent_pk = self.run_pk(parent_run_id) if parent_run_id else None
        run_id = uuid.uuid4().hex
        name = run_name or random_run_name()

        def insert(conn: sa.Connection) -> int:
            stage = conn.execute(
                sa.select(schema.experiments.c.lifecycle_stage).where(
                    schema.experiments.c.experiment_id == exp_id
                )
            ).scalar()
            if stage is None:
                raise NotFoundError(
                    f"No Experiment with id={experiment_id} exists; "
                    "list them with search_experiments()"
                )
            if stage != LifecycleStage.ACTIVE:
                raise InvalidInputError(
                    f"experiment {experiment_id} is deleted; restore it or choose another"
                )
            run_pk = conn.execute(
                runs_t.insert().values(
                    run_id=run_id,
                    experiment_id=exp_id,
                    name=name,
                    status=RunStatus.RUNNING,
                    start_time=start_time,
                    end_time=None,
                    lifecycle_stage=LifecycleStage.ACTIVE,
                    parent_run_pk=parent_pk,
                    user_id=user_id,
                    host=_liveness.HOST,
                    pid=os.getpid(),
                    heartbeat=start_time,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            if tags:
                conn.execute(
                    schema.tags.insert(),
                    [{"run_pk": run_pk, "key": k, "value": v} for k, v in tags.items()],
                )
            conn.execute(join_run_statement(run_pk))
            return int(run_pk)

        run_pk = self.writer.call(insert)
        self._runs[run_id] = _RunState(run_pk, registered=True)
        self.writer.add_heartbeat(run_pk)
        return self.get_run(run_id)

    def resume_run(self, run_id: str) -> Run:
        """Make an existing run RUNNING again, owned by this process; its steps continue."""
        state = self._state(run_id)

        def resume(conn: sa.Connection) -> None:
            conn.execute(
                runs_t.update()
                .where(runs_t.c.run_pk == state.run_pk)
                .values(
                    status=RunStatus.RUNNING,
                    end_time=None,
                    host=_liveness.HOST,
                    pid=os.getpid(),
                    heartbeat=now_ms(),
                )
            )
            conn.execute(join_run_statement(state.run_pk))

        self.writer.call(resume)
        state.registered = True
        self.writer.add_heartbeat(state.run_pk)
        return self.get_run(run_id)

    def run_pk(self, run_id: str) -> int:
        """The integer key of a run; :class:`NotFoundError` if it does not exist."""
        return self._state(run_id).run_pk

    def _state(self, run_id: str) -> _RunState:
        state = self._runs.get(run_id)
        if state is not None:
            return state
        with self._read() as conn:
            row = conn.execute(
                sa.select(runs_t.c.run_pk, runs_t.c.lifecycle_stage).where(
                    runs_t.c.run_id == run_id
                )
            ).first()
            if row is None:
                raise NotFoundError(f"no run with id {run_id!r}")
            state = _RunState(row.run_pk, deleted=row.lifecycle_stage == LifecycleStage.DELETED)
            metrics, keys, latest = schema.metrics, schema.metric_keys, schema.latest_metrics
            # Each series the run has (one latest_metrics row each) and its last step:
            # one index seek per series, where a GROUP BY over the metrics rows read
            # every point (0.8 s for the first read of a run with 2,000,000 points).
            last = (
                sa.select(metrics.c.step)
                .where(metrics.c.run_pk == row.run_pk, metrics.c.key_id == latest.c.key_id)
                .order_by(metrics.c.step.desc())
                .limit(1)
                .scalar_subquery()
            )
            # Never below -1, as in log_metric: after only negative steps, step=None
            # gives 0 whether or not the store was reopened in between.
            state.last_steps = {
                key: max(int(step), -1)
                for key, step in conn.execute(
                    sa.select(keys.c.key, last)
                    .join(keys, keys.c.key_id == latest.c.key_id)
                    .where(latest.c.run_pk == row.run_pk)
                )
                if step is not None
            }
            params = schema.params
            # .all(): dict() of a Result would treat it as a mapping (it has .keys()).
            state.params = dict(
                conn.execute(
                    sa.select(params.c.key, params.c.value).where(params.c.run_pk == row.run_pk)
                ).all()
            )
        self._runs[run_id] = state
        return state

    def _writable(self, run_id: str) -> _RunState:
        """The run's state, refusing a run in the trash as MLflow does."""
        state = self._runs.get(run_id) or self._state(run_id)
        if state.deleted:
            raise InvalidInputError(
                f"run {run_id} is deleted; restore it first (nbtrack.restore_run({run_id!r}) "
                "or `TrackingClient().restore_run(...)`) to log to it"
            )
        if not state.registered:
            self._join(state, run_id)
        return state

    def _join(self, state: _RunState, run_id: str) -> None:
        """Record this process among the run's writers (queued), so the run lives while it does.

        A run another process created (``TrackingClient.create_run`` in a
        launcher, then logged to by workers) stays RUNNING while any writer lives.
        """
        state.registered = True
        self.writer.put(
            statement_op(join_run_statement(state.run_pk), f"writer record of run {run_id}")
        )
        self.writer.add_heartbeat(state.run_pk)

    def set_terminated(self, run_id: str, status: RunStatus, end_time: int) -> None:
        """End a run with ``status``; written in order with everything logged before."""
        state = self._state(run_id)
        self.writer.put(
            statement_op(
                runs_t.update()
                .where(runs_t.c.run_pk == state.run_pk)
                .values(status=status, end_time=end_time, heartbeat=end_time),
                f"status {status} of run {run_id}",
            )
        )
        writers = schema.run_writers
        self.writer.put(
            statement_op(
                writers.delete().where(writers.c.run_pk == state.run_pk),
                f"writer records of ended run {run_id}",
            )
        )
        state.registered = False  # logging to it again records the writer again
        self.writer.remove_heartbeat(state.run_pk)

    def set_run_name(self, run_id: str, name: str) -> None:
        """Rename a run."""
        state = self._writable(run_id)
        self.writer.put(
            statement_op(
                runs_t.update().where(runs_t.c.run_pk == state.run_pk).values(name=name),
                f"name of run {run_id}",
            )
        )

    def set_run_lifecycle(self, run_id: str, stage: LifecycleStage) -> None:
        """Move a run to the trash (``deleted``) or back (``active``)."""
        state = self._state(run_id)
        deleted_time = now_ms() if stage == LifecycleStage.DELETED else None
        self.writer.call(
            lambda conn: conn.execute(
                runs_t.update()
                .where(runs_t.c.run_pk == state.run_pk)
                .values(lifecycle_stage=stage, deleted_time=deleted_time)
            )
        )
        state.deleted = stage == LifecycleStage.DELETED

    def get_run(self, run_id: str) -> Run:
        """The whole run; :class:`NotFoundError` if there is none."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(*_records.RUN_COLUMNS).where(runs_t.c.run_id == run_id)
            ).all()
            if not rows:
                raise NotFoundError(f"no run with id {run_id!r}")
            return _records.runs_from_rows(conn, rows)[0]

    def search_query(
        self,
        experiment_ids: Sequence[str] | None,
        filter_string: str | None,
        view_type: str,
        max_results: int | None,
        order_by: Sequence[str] | None,
        offset: int = 0,
    ) -> sa.Select[Any]:
        """The SELECT of runs that ``search_runs`` executes (filter and order checked)."""
        from nbtrack.store import search

        query = sa.select(*_records.RUN_COLUMNS)
        if experiment_ids is not None:
            query = query.where(runs_t.c.experiment_id.in_([int_id(e) for e in experiment_ids]))
        if view_type != "all":
            query = query.where(runs_t.c.lifecycle_stage == view_type)
        condition = search.compile_filter(filter_string)
        if condition is not None:
            query = query.where(condition)
        query = query.order_by(*search.compile_order_by(order_by))
        if max_results is not None:
            query = query.limit(max_results)
        if offset:
            query = query.offset(offset)
        return query

    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str | None = None,
        view_type: str = LifecycleStage.ACTIVE,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
        offset: int = 0,
    ) -> list[Run]:
        """Runs matching the filter grammar of :mod:`nbtrack.store.search`, as entities."""
        query = self.search_query(
            experiment_ids, filter_string, view_type, max_results, order_by, offset
        )
        with self._read() as conn:
            return _records.runs_from_rows(conn, conn.execute(query).all())

    def search_runs_frame(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str | None = None,
        view_type: str = LifecycleStage.ACTIVE,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Like :meth:`search_runs`, straight to a DataFrame (no entity objects in between)."""
        query = self.search_query(
            experiment_ids, filter_string, view_type, max_results, order_by, offset
        )
        with self._read() as conn:
            return _records.runs_frame(conn, conn.execute(query).all())

    # -- logging (enqueue only) -----------------------------------------------------

    def log_metric(
        self, run_id: str, key: str, value: float, timestamp: int, step: int | None
    ) -> None:
        """Queue one metric point.

        ``step=None`` is queued as None: the writer gives the point the key's
        next step as stored when it writes it, so several processes logging to
        one key never collide. Explicit steps are kept, and replace a stored
        point of the same step.
        """
        state = self._writable(run_id)
        last = state.last_steps.get(key, -1)
        if step is None:
            state.last_steps[key] = last + 1 if last < MAX_STEP else next_step(key, last)
            rewrite = False
        else:
            rewrite = step <= last  # may replace a stored value: the writer takes more care
            if not rewrite:
                state.last_steps[key] = step
        context = self.cell_context
        cell = context[1] if context is not None and context[0] == state.run_pk else None
        self.writer.put(metric_op(state.run_pk, key, value, timestamp, step, cell, rewrite))

    def prepare_metrics(self, run_id: str, points: Iterable[Any]) -> MetricRows:
        """Check ``(key, value, timestamp, step)`` points and shape them as table rows.

        Nothing is queued (see :meth:`queue_metrics`); new metric names are
        interned once every point has passed, so a bad batch leaves no trace.
        """
        state = self._writable(run_id)
        batch = metric_rows(points, state.run_pk, self._key_ids, state.last_steps)
        if batch.missing:
            ids = self._metric_key_ids(batch.missing)
            rows = [
                row if type(row[1]) is int else (row[0], ids[str(row[1])], *row[2:])
                for row in batch.rows
            ]
            batch = batch._replace(rows=rows, missing=set())
        return batch

    def queue_metrics(self, run_id: str, batch: MetricRows) -> None:
        """Queue a prepared batch: one queue entry, already in the table's row shape."""
        state = self._writable(run_id)
        state.last_steps.update(batch.last_steps)
        run_pk = state.run_pk
        self.writer.put_batch(
            metrics_op(run_pk, batch.rows, self._cell_of(run_pk), batch.rewrite, batch.auto),
            len(batch.rows),
        )

    def _metric_key_ids(self, keys: set[str]) -> dict[str, int]:
        """Ids of metric names, interned once per process (a write only for a new name)."""
        cache = self._key_ids
        missing = keys - cache.keys()
        if missing:
            cache.update(self.writer.call(lambda conn: intern_keys(conn, missing)))
        return cache

    def _cell_of(self, run_pk: int) -> int | None:
        context = self.cell_context
        return context[1] if context is not None and context[0] == run_pk else None

    def logged_param(self, run_id: str, key: str) -> str | None:
        """The value already logged for a param of this run, if any."""
        return self._state(run_id).params.get(key)

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        """Queue params (already checked against earlier values by the caller)."""
        state = self._writable(run_id)
        state.params.update(params)
        cell = self._cell_of(state.run_pk)
        self.writer.put_many(param_op(state.run_pk, k, v, cell) for k, v in params.items())

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Queue tags; a tag set again takes the new value."""
        state = self._writable(run_id)
        cell = self._cell_of(state.run_pk)
        self.writer.put_many(tag_op(state.run_pk, k, v, cell) for k, v in tags.items())

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from a run."""
        state = self._writable(run_id)
        tags = schema.tags
        self.writer.put(
            statement_op(
                tags.delete().where(tags.c.run_pk == state.run_pk).where(tags.c.key == key),
                f"deletion of tag {key!r} of run {run_id}",
            )
        )

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric, by step (NaN kept)."""
        run_pk = self.run_pk(run_id)
        # Histories reach 10^6 points: rows come straight from the driver, already
        # in Metric's field order, and become Metric tuples in C.
        postgres = _dialect.is_postgres(self.engine)
        value: sa.ColumnElement[Any] = _history.VALUE
        if postgres:  # NaN is stored as NULL; PostgreSQL's float8 can give it back
            value = sa.func.coalesce(value, sa.literal(float("nan"), sa.Float))
        columns = (sa.literal(key), value, _history.TIMESTAMP, _history.STEP)
        with _history.gc_paused(), self._read() as conn:
            key_id = _history.key_id(conn, key)
            if key_id is None:
                return []
            rows = _history.point_rows(conn, run_pk, key_id, columns)
            history: list[Metric] = list(map(_new_metric, rows))
        if not postgres and any(point.value is None for point in history):
            nan = float("nan")  # SQLite cannot hold NaN: NULL stands for it
            history = [p._replace(value=nan) if p.value is None else p for p in history]
        return history

    def metric_keys_of(self, run_id: str) -> list[str]:
        """Names of the metrics a run has logged."""
        run_pk = self.run_pk(run_id)
        latest, keys = schema.latest_metrics, schema.metric_keys
        with self._read() as conn:
            return list(
                conn.execute(
                    sa.select(keys.c.key)
                    .join(latest, latest.c.key_id == keys.c.key_id)
                    .where(latest.c.run_pk == run_pk)
                    .order_by(keys.c.key)
                ).scalars()
            )

    # -- artifacts ------------------------------------------------------------------

    def log_artifact_blob(self, run_id: str, artifact_path: str, sha256: str, size: int) -> None:
        """Record that ``artifact_path`` of the run holds blob ``sha256`` (written already)."""
        self.log_artifact_blobs(run_id, [(artifact_path, sha256, size)])

    def log_artifact_blobs(self, run_id: str, rows: Sequence[tuple[str, str, int]]) -> None:
        """Record ``(artifact_path, sha256, size)`` rows of the run (blobs written already).

        Rows go in multi-row statements: building one statement per file cost
        more than storing the file for a directory of small ones.
        """
        state = self._writable(run_id)
        arts = schema.artifacts
        created, cell = now_ms(), self._cell_of(state.run_pk)
        for start in range(0, len(rows), _ARTIFACT_ROWS_PER_STATEMENT):
            part = rows[start : start + _ARTIFACT_ROWS_PER_STATEMENT]
            stmt = _dialect.upsert(
                arts,
                ["run_pk", "path"],
                {
                    "sha256": _dialect.excluded(arts, "sha256"),
                    "size": _dialect.excluded(arts, "size"),
                    "created": _dialect.excluded(arts, "created"),
                    "cell_seq": _dialect.excluded(arts, "cell_seq"),
                },
            ).values(
                [
                    {"run_pk": state.run_pk, "path": path, "sha256": sha, "size": size,
                     "created": created, "cell_seq": cell}
                    for path, sha, size in part
                ]
            )  # fmt: skip
            more = f" and {len(part) - 1} more" if len(part) > 1 else ""
            what = f"{part[0][0]!r}{more}"
            self.writer.put(statement_op(stmt, f"artifact {what} of run {run_id}"))

    def artifact_rows(self, run_id: str, prefix: str = "") -> list[tuple[str, str, int]]:
        """``(path, sha256, size)`` of the run's artifacts at or under ``prefix``."""
        run_pk = self.run_pk(run_id)
        arts = schema.artifacts
        query = sa.select(arts.c.path, arts.c.sha256, arts.c.size).where(arts.c.run_pk == run_pk)
        if prefix:
            query = query.where(
                sa.or_(arts.c.path == prefix, arts.c.path.startswith(prefix + "/", autoescape=True))
            )
        with self._read() as conn:
            return [(r.path, r.sha256, r.size) for r in conn.execute(query.order_by(arts.c.path))]

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactInfo]:
        """Immediate children of ``path`` (files and directories), like ``ls``."""
        return children_of(self.artifact_rows(run_id, path), path)

    def download_artifacts(
        self,
        run_id: str,
        path: str,
        destination: Path,
        progress: Callable[[int], object] | None = None,
    ) -> Path:
        """Copy the artifact (file or directory) at ``path`` to ``destination/path``.

        Files are fetched in parallel (each checked against its sha256 and renamed
        into place only then); ``progress`` is called with each chunk's size.
        """
        rows = self.artifact_rows(run_id, path)
        if not rows:
            raise NotFoundError(f"run {run_id} has no artifact at {path!r}")
        blobs = self.blobs_for_run(run_id)
        targets = [(sha, safe_destination(destination, full), size) for full, sha, size in rows]
        # With one root there is nowhere else to look: no query of the roots per file.
        single = [root.url for root in self.artifact_roots()] == [blobs.url]

        def fetch(item: tuple[str, Path, int]) -> None:
            sha, target, size = item
            holder = blobs if single else self.blobs_holding(sha, blobs)
            holder.copy_to(sha, target, progress, int(size))

        parallel_map(fetch, targets)
        return destination / path if path else destination


def children_of(rows: Iterable[tuple[str, str, int]], path: str) -> list[ArtifactInfo]:
    """Immediate children of ``path`` among ``(path, sha256, size)`` rows, like ``ls``
    (rows outside ``path`` are ignored; ``path`` naming a file lists that file)."""
    base = f"{path}/" if path else ""
    children: dict[str, ArtifactInfo] = {}
    for full, sha, size in rows:
        if full == path:  # ``path`` is itself a file
            return [ArtifactInfo(full, False, size, sha)]
        if not full.startswith(base):
            continue
        head, sep, _ = full[len(base) :].partition("/")
        child = base + head
        if sep:
            children.setdefault(child, ArtifactInfo(child, True, None))
        else:
            children[child] = ArtifactInfo(child, False, size, sha)
    return sorted(children.values(), key=lambda info: info.path)
