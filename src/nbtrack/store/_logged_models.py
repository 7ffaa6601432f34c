"""MLflow 3's logged models in the SQL store (a mixin of ``SqlStore``).

A logged model has an id of its own (``m-<32 hex>``). One logged into a run keeps
its files among the run's artifacts (``source_run_id`` + ``artifact_path``); one
created on its own (``MlflowClient.create_logged_model``) keeps them in
``logged_model_files``. Writes go through the background writer in one
transaction each; reads flush first, so a value is visible once its call returns.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nbtrack.entities import LifecycleStage, LoggedModel, LoggedModelMetric, LoggedModelStatus
from nbtrack.exceptions import NotFoundError
from nbtrack.store import _dialect, schema
from nbtrack.store._liveness import now_ms
from nbtrack.store._writer_ops import statement_op

if TYPE_CHECKING:
    from nbtrack.store._writer import BackgroundWriter

FileRow = tuple[str, str, int]
_models = schema.logged_models


def new_model_id() -> str:
    """A fresh logged-model id, as MLflow 3 writes them: ``m-`` and 32 hex digits."""
    return f"m-{uuid.uuid4().hex}"


class LoggedModelsMixin:
    """Create, read, tag and link metrics and files to logged models."""

    writer: BackgroundWriter

    def _read(self) -> Any:  # provided by SqlStore
        raise NotImplementedError

    def flush(self, timeout: float | None = None) -> None:  # provided by SqlStore
        raise NotImplementedError

    def create_logged_model(
        self,
        experiment_id: str,
        name: str,
        *,
        source_run_id: str | None = None,
        artifact_path: str | None = None,
        model_type: str | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        status: LoggedModelStatus = LoggedModelStatus.PENDING,
        model_id: str | None = None,
        creation_time: int | None = None,
    ) -> str:
        """Record a new logged model; returns its id (a new one unless ``model_id`` is
        given, as an import keeps MLflow's ids)."""
        model_id = model_id or new_model_id()
        now = now_ms() if creation_time is None else creation_time

        def insert(conn: sa.Connection) -> None:
            conn.execute(
                _models.insert().values(
                    model_id=model_id,
                    experiment_id=int(experiment_id),
                    name=name,
                    source_run_id=source_run_id,
                    artifact_path=artifact_path,
                    model_type=model_type,
                    status=str(status),
                    lifecycle_stage=LifecycleStage.ACTIVE,
                    creation_time=now,
                    last_updated_time=now,
                )
            )
            _upsert_pairs(conn, schema.logged_model_params, model_id, params or {})
            _upsert_pairs(conn, schema.logged_model_tags, model_id, tags or {})

        self.writer.call(insert)
        return model_id

    def get_logged_model(self, model_id: str, *, include_deleted: bool = False) -> LoggedModel:
        """The logged model ``model_id``; :class:`NotFoundError` if there is none."""
        self.flush()
        metrics = schema.logged_model_metrics
        with self._read() as conn:
            row = conn.execute(sa.select(_models).where(_models.c.model_id == model_id)).first()
            if row is None or (
                row.lifecycle_stage == LifecycleStage.DELETED and not include_deleted
            ):
                raise NotFoundError(
                    f"Logged model with ID '{model_id}' not found; list them with "
                    "search_logged_models(experiment_ids=[...])"
                )
            params = _pairs(conn, schema.logged_model_params, model_id)
            tags = _pairs(conn, schema.logged_model_tags, model_id)
            points = conn.execute(
                sa.select(metrics)
                .where(metrics.c.model_id == model_id)
                .order_by(metrics.c.metric_pk)
            ).all()
        location = (
            f"runs:/{row.source_run_id}/{row.artifact_path}"
            if row.source_run_id and row.artifact_path
            else f"models:/{model_id}"
        )
        return LoggedModel(
            experiment_id=str(row.experiment_id),
            model_id=model_id,
            name=row.name,
            artifact_location=location,
            creation_timestamp=row.creation_time,
            last_updated_timestamp=row.last_updated_time,
            model_type=row.model_type,
            source_run_id=row.source_run_id,
            status=LoggedModelStatus(row.status),
            tags=tags,
            params=params,
            metrics=[
                LoggedModelMetric(
                    p.key,
                    float("nan") if p.value is None else p.value,
                    p.timestamp,
                    p.step,
                    p.run_id,
                    model_id,
                    p.dataset_name,
                    p.dataset_digest,
                )
                for p in points
            ],
        )

    def logged_model_ids(self, experiment_ids: Iterable[str]) -> list[str]:
        """Ids of the active logged models of these experiments, newest first."""
        self.flush()
        ids = [int(e) for e in experiment_ids]
        with self._read() as conn:
            return list(
                conn.execute(
                    sa.select(_models.c.model_id)
                    .where(
                        _models.c.experiment_id.in_(ids),
                        _models.c.lifecycle_stage == LifecycleStage.ACTIVE,
                    )
                    .order_by(_models.c.model_pk.desc())
                ).scalars()
            )

    def update_logged_model(
        self,
        model_id: str,
        *,
        status: LoggedModelStatus | None = None,
        lifecycle_stage: LifecycleStage | None = None,
    ) -> None:
        """Change a logged model's status or lifecycle stage."""
        self.get_logged_model(model_id, include_deleted=lifecycle_stage is not None)
        values: dict[str, Any] = {"last_updated_time": now_ms()}
        if status is not None:
            values["status"] = str(status)
        if lifecycle_stage is not None:
            values["lifecycle_stage"] = str(lifecycle_stage)
        self.writer.call(
            lambda conn: conn.execute(
                _models.update().where(_models.c.model_id == model_id).values(**values)
            )
        )

    def set_logged_model_pairs(
        self, model_id: str, *, params: Mapping[str, str] = {}, tags: Mapping[str, str] = {}
    ) -> None:
        """Set params and tags of a logged model (a key set again takes the new value)."""
        self.get_logged_model(model_id)

        def write(conn: sa.Connection) -> None:
            _upsert_pairs(conn, schema.logged_model_params, model_id, params)
            _upsert_pairs(conn, schema.logged_model_tags, model_id, tags)

        self.writer.call(write)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Remove a tag of a logged model; :class:`NotFoundError` if it has none by that name."""
        found = self.get_logged_model(model_id)
        if key not in found.tags:
            raise NotFoundError(
                f"logged model {model_id} has no tag {key!r}; its tags: {sorted(found.tags)}"
            )
        tags = schema.logged_model_tags
        self.writer.call(
            lambda conn: conn.execute(
                tags.delete().where(tags.c.model_id == model_id, tags.c.key == key)
            )
        )

    def has_logged_model(self, model_id: str) -> bool:
        """Whether this store has logged model ``model_id`` (no flush: models are written
        synchronously; an id once seen is remembered, for metric linking on the hot path)."""
        known: set[str] = self.__dict__.setdefault("_known_model_ids", set())
        if model_id in known:
            return True
        with self._read() as conn:
            found = conn.execute(
                sa.select(_models.c.model_id).where(_models.c.model_id == model_id)
            ).first()
        if found is not None:
            known.add(model_id)
        return found is not None

    def log_model_metrics(self, points: Iterable[LoggedModelMetric]) -> None:
        """Link metric points to their logged models (``point.model_id``), queued in order
        with the run's own metric points."""
        rows = [
            {
                "model_id": p.model_id,
                "key": p.key,
                "value": None if p.value != p.value else p.value,  # NaN is stored as NULL
                "timestamp": p.timestamp,
                "step": p.step,
                "run_id": p.run_id,
                "dataset_name": p.dataset_name,
                "dataset_digest": p.dataset_digest,
            }
            for p in points
        ]
        if rows:
            statement = schema.logged_model_metrics.insert().values(rows)
            self.writer.put(
                statement_op(statement, f"metrics of logged model {rows[0]['model_id']}")
            )

    def log_model_file(self, model_id: str, path: str, sha256: str, size: int) -> None:
        """Record that file ``path`` of a logged model holds blob ``sha256`` (written already)."""
        files = schema.logged_model_files
        stmt = _dialect.upsert(
            files,
            ["model_id", "path"],
            {
                "sha256": _dialect.excluded(files, "sha256"),
                "size": _dialect.excluded(files, "size"),
            },
        ).values(model_id=model_id, path=path, sha256=sha256, size=size)
        self.writer.call(lambda conn: conn.execute(stmt))

    def logged_model_rows(self, model_id: str) -> list[FileRow]:
        """``(path, sha256, size)`` of a standalone logged model's files (relative paths)."""
        self.flush()
        files = schema.logged_model_files
        with self._read() as conn:
            return [
                (r.path, r.sha256, r.size)
                for r in conn.execute(
                    sa.select(files.c.path, files.c.sha256, files.c.size)
                    .where(files.c.model_id == model_id)
                    .order_by(files.c.path)
                )
            ]


def _pairs(conn: sa.Connection, table: sa.Table, model_id: str) -> dict[str, str]:
    return {
        str(k): str(v)
        for k, v in conn.execute(
            sa.select(table.c.key, table.c.value).where(table.c.model_id == model_id)
        ).all()
    }


def _upsert_pairs(
    conn: sa.Connection, table: sa.Table, model_id: str, pairs: Mapping[str, str]
) -> None:
    for key, value in pairs.items():
        conn.execute(
            _dialect.upsert(
                table, ["model_id", "key"], {"value": _dialect.excluded(table, "value")}
            ).values(model_id=model_id, key=key, value=value)
        )
