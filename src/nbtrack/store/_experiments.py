"""Experiments of the SQL store (a mixin of :class:`~nbtrack.store.sql_store.SqlStore`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nbtrack.entities import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    Experiment,
    LifecycleStage,
)
from nbtrack.exceptions import InvalidInputError, NotFoundError
from nbtrack.store import _dialect, _records, schema
from nbtrack.store._blob_roots import ROOT_TAG
from nbtrack.store._liveness import now_ms

if TYPE_CHECKING:
    from nbtrack.store._writer import BackgroundWriter
    from nbtrack.store.artifacts import Blobs


class ExperimentsMixin:
    """Create, find and trash experiments."""

    writer: BackgroundWriter
    blobs: Blobs

    def _read(self) -> Any:  # provided by SqlStore
        raise NotImplementedError

    def _ensure_default_experiment(self) -> None:
        exp = schema.experiments
        with self._read() as conn:
            found = conn.execute(
                sa.select(exp.c.experiment_id).where(exp.c.experiment_id == DEFAULT_EXPERIMENT_ID)
            ).first()
        if found is None:
            now = now_ms()
            self.writer.call(
                lambda conn: conn.execute(
                    _dialect.upsert(exp, ["experiment_id"]).values(
                        experiment_id=DEFAULT_EXPERIMENT_ID,
                        name=DEFAULT_EXPERIMENT_NAME,
                        artifact_location=self.blobs.url,
                        lifecycle_stage=LifecycleStage.ACTIVE,
                        creation_time=now,
                        last_update_time=now,
                    )
                )
            )

    def create_experiment(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        artifact_location: str | None = None,
    ) -> str:
        """Create an experiment; returns its id. A taken name is an error.

        ``artifact_location`` is recorded as given (MLflow's argument) and is the
        root of the experiment's content-addressed blobs: a local directory or an
        fsspec URL (``s3://bucket/prefix``), checked and opened here so that a bad
        one or a missing filesystem package fails now, not at the first artifact.
        """
        from nbtrack.store._blob_roots import canonical_root, open_blobs

        exp = schema.experiments
        if artifact_location is not None:
            root = canonical_root(artifact_location)
            open_blobs(root)
            tags = {**(tags or {}), ROOT_TAG: str(root)}

        def insert(conn: sa.Connection) -> int:
            existing = conn.execute(
                sa.select(exp.c.experiment_id).where(exp.c.name == name)
            ).scalar()
            if existing is not None:
                raise InvalidInputError(
                    f"Experiment(name={name}) already exists (id {existing}); "
                    f"select it with set_experiment({name!r})"
                )
            now = now_ms()
            experiment_id = conn.execute(
                exp.insert().values(
                    name=name,
                    artifact_location=artifact_location or self.blobs.url,
                    lifecycle_stage=LifecycleStage.ACTIVE,
                    creation_time=now,
                    last_update_time=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            if tags:
                conn.execute(
                    schema.experiment_tags.insert(),
                    [
                        {"experiment_id": experiment_id, "key": k, "value": v}
                        for k, v in tags.items()
                    ],
                )
            return int(experiment_id)

        return str(self.writer.call(insert))

    def _experiments(self, where: Any) -> list[Experiment]:
        exp, exp_tags = schema.experiments, schema.experiment_tags
        with self._read() as conn:
            rows = conn.execute(sa.select(exp).where(where).order_by(exp.c.experiment_id)).all()
            tags: dict[int, dict[str, str]] = {}
            ids = [r.experiment_id for r in rows]
            if ids:
                for eid, key, value in conn.execute(
                    sa.select(exp_tags.c.experiment_id, exp_tags.c.key, exp_tags.c.value).where(
                        exp_tags.c.experiment_id.in_(ids),
                        exp_tags.c.key != ROOT_TAG,  # the blob root: the store's own record
                    )
                ):
                    tags.setdefault(eid, {})[key] = value
        return [_records.experiment_from_row(r, tags.get(r.experiment_id)) for r in rows]

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id; :class:`NotFoundError` if there is none."""
        found = self._experiments(schema.experiments.c.experiment_id == int_id(experiment_id))
        if not found:
            raise NotFoundError(
                f"No Experiment with id={experiment_id} exists; list them with search_experiments()"
            )
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment called ``name``, or None."""
        found = self._experiments(schema.experiments.c.name == name)
        return found[0] if found else None

    def search_experiments(
        self,
        view_type: str = LifecycleStage.ACTIVE,
        name_like: str | None = None,
        *,
        case_insensitive: bool = False,
        escape: str | None = None,
    ) -> list[Experiment]:
        """Experiments in a stage ('active', 'deleted' or 'all'), optionally by LIKE pattern."""
        exp = schema.experiments
        where: Any = sa.true()
        if view_type != "all":
            where = exp.c.lifecycle_stage == view_type
        if name_like is not None:
            like = exp.c.name.ilike if case_insensitive else exp.c.name.like
            where = sa.and_(where, like(name_like, escape=escape))
        return self._experiments(where)

    def set_experiment_lifecycle(self, experiment_id: str, stage: LifecycleStage) -> None:
        """Move an experiment to the trash or back."""
        exp = schema.experiments
        self.get_experiment(experiment_id)
        self.writer.call(
            lambda conn: conn.execute(
                exp.update()
                .where(exp.c.experiment_id == int_id(experiment_id))
                .values(lifecycle_stage=stage, last_update_time=now_ms())
            )
        )

    def set_experiment_tag(self, experiment_id: str, key: str, value: str | None) -> None:
        """Set (or with ``value=None`` remove) a tag of an experiment."""
        exp_tags = schema.experiment_tags
        self.get_experiment(experiment_id)
        eid = int_id(experiment_id)

        def write(conn: sa.Connection) -> None:
            if value is None:
                deleted = conn.execute(
                    exp_tags.delete().where(exp_tags.c.experiment_id == eid, exp_tags.c.key == key)
                ).rowcount
                if not deleted:
                    raise NotFoundError(f"experiment {experiment_id} has no tag {key!r}")
                return
            conn.execute(
                exp_tags.delete().where(exp_tags.c.experiment_id == eid, exp_tags.c.key == key)
            )
            conn.execute(exp_tags.insert().values(experiment_id=eid, key=key, value=value))

        self.writer.call(write)


def int_id(experiment_id: str | int) -> int:
    """An experiment id as the integer the database keys it by; refuses non-ids.

    Beyond 64 bits is refused here rather than by the database (an OverflowError).
    """
    try:
        number = int(experiment_id)
    except (TypeError, ValueError):
        number = None
    if number is None or not _INT64_MIN <= number <= _INT64_MAX:
        shown = str(experiment_id)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise InvalidInputError(
            f"experiment id {shown!r} is not an id; ids are integers such as '0' or '3' "
            "(use get_experiment_by_name for names)"
        ) from None
    return number


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
