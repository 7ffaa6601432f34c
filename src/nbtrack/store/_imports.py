"""Writing records that were made elsewhere (an MLflow store), keeping their ids and times.

The usual paths (``create_experiment``, ``create_run``) stamp "now", this host
and a new id; an import must keep the source's. These functions write one
row each on the store's writer and trust their inputs: the importer checks
them first (:mod:`nbtrack.mlflow_io`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from nbtrack.entities import LifecycleStage, LoggedModelMetric, LoggedModelStatus, RunStatus
from nbtrack.exceptions import InvalidInputError
from nbtrack.store import _liveness, schema
from nbtrack.store._experiments import int_id

if TYPE_CHECKING:
    from nbtrack.store.registry import Actor, ImportedModel
    from nbtrack.store.sql_store import SqlStore

runs_t = schema.runs


class Imports:
    """The import writes of one store (:attr:`nbtrack.client.TrackingClient.imports`)."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def insert_experiment(
        self,
        name: str,
        *,
        tags: dict[str, str],
        creation_time: int,
        last_update_time: int,
        lifecycle_stage: LifecycleStage,
    ) -> str:
        """Create an experiment with the source's times and stage; returns its new id."""
        exp = schema.experiments

        def insert(conn: sa.Connection) -> int:
            if conn.execute(sa.select(exp.c.experiment_id).where(exp.c.name == name)).first():
                raise InvalidInputError(f"experiment {name!r} already exists")
            new_id = conn.execute(
                exp.insert().values(
                    name=name,
                    artifact_location=self._store.blobs.url,
                    lifecycle_stage=lifecycle_stage,
                    creation_time=creation_time,
                    last_update_time=last_update_time,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            _put_experiment_tags(conn, int(new_id), tags)
            return int(new_id)

        return str(self._store.writer.call(insert))

    def set_experiment_tags(self, experiment_id: str, tags: dict[str, str]) -> None:
        """Set tags of an experiment (a tag set again takes the new value)."""
        if tags:
            number = int_id(experiment_id)
            self._store.writer.call(lambda conn: _put_experiment_tags(conn, number, tags))

    def insert_run(
        self,
        *,
        run_id: str,
        experiment_id: str,
        name: str,
        start_time: int,
        user_id: str,
    ) -> None:
        """Insert a RUNNING run with a given id and start time, owned by this process.

        The importer logs the run's values, then ends it with its source status
        and end time (:meth:`SqlStore.set_terminated`): a run whose import was
        cut short stays RUNNING (KILLED at the next open) and is imported again.
        """
        exp_id = int_id(experiment_id)
        now = _liveness.now_ms()
        self._store.writer.call(
            lambda conn: conn.execute(
                runs_t.insert().values(
                    run_id=run_id,
                    experiment_id=exp_id,
                    name=name,
                    status=RunStatus.RUNNING,
                    start_time=start_time,
                    end_time=None,
                    lifecycle_stage=LifecycleStage.ACTIVE,
                    parent_run_pk=None,
                    user_id=user_id,
                    host=_liveness.HOST,
                    pid=os.getpid(),
                    heartbeat=now,
                )
            )
        )

    def set_parent(self, run_id: str, parent_run_id: str) -> None:
        """Make ``parent_run_id`` the parent of ``run_id`` (both must exist)."""
        child, parent = self._store.run_pk(run_id), self._store.run_pk(parent_run_id)
        self._store.writer.call(
            lambda conn: conn.execute(
                runs_t.update().where(runs_t.c.run_pk == child).values(parent_run_pk=parent)
            )
        )

    def run_summary(self, run_ids: list[str]) -> dict[str, tuple[str, int | None]]:
        """``run_id -> (status, end_time)`` of those of ``run_ids`` that exist."""
        found: dict[str, tuple[str, int | None]] = {}
        with self._store.engine.connect() as conn:
            for start in range(0, len(run_ids), 500):
                chunk = run_ids[start : start + 500]
                for row in conn.execute(
                    sa.select(runs_t.c.run_id, runs_t.c.status, runs_t.c.end_time).where(
                        runs_t.c.run_id.in_(chunk)
                    )
                ):
                    found[row.run_id] = (row.status, row.end_time)
        return found

    def import_model(self, model: ImportedModel, actor: Actor) -> bool:
        """Write a registered model, versions and aliases as the source had them; True if new."""
        return self._store.registry.import_model(model, actor)

    def has_version(self, name: str, version: int) -> bool:
        """Whether registered model ``name`` has ``version`` already."""
        return self._store.registry.has_version(name, version)

    def insert_logged_model(
        self,
        model_id: str,
        experiment_id: str,
        name: str,
        *,
        source_run_id: str,
        artifact_path: str,
        model_type: str | None,
        params: dict[str, str],
        tags: dict[str, str],
        status: LoggedModelStatus,
        creation_time: int,
        metrics: Iterable[LoggedModelMetric],
    ) -> bool:
        """Record another store's logged model under its own id (False: already here)."""
        if self._store.has_logged_model(model_id):
            return False
        self._store.create_logged_model(
            experiment_id,
            name,
            source_run_id=source_run_id,
            artifact_path=artifact_path,
            model_type=model_type,
            params=params,
            tags=tags,
            status=status,
            model_id=model_id,
            creation_time=creation_time,
        )
        self._store.log_model_metrics(metrics)
        return True


def _put_experiment_tags(conn: sa.Connection, experiment_id: int, tags: dict[str, str]) -> None:
    et = schema.experiment_tags
    for key, _value in tags.items():
        conn.execute(et.delete().where(et.c.experiment_id == experiment_id, et.c.key == key))
    if tags:
        conn.execute(
            et.insert(),
            [{"experiment_id": experiment_id, "key": k, "value": v} for k, v in tags.items()],
        )
