"""Reading runs back: rows of the store turned into entities and DataFrames.

Reads are bulk: one query for the runs, then one each for their params, tags
and latest metrics (``run_pk IN (...)``), never one query per run.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nbtrack.entities import (
    INPUT_TAG_PREFIX,
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    Run,
    RunData,
    RunInfo,
    RunInputs,
)
from nbtrack.store import _dialect, schema

if TYPE_CHECKING:
    import pandas as pd

_CHUNK = 5000  # bound parameters per IN (...) list
_EMPTY: dict[str, Any] = {}

RUN_COLUMNS = (
    schema.runs.c.run_pk,
    schema.runs.c.run_id,
    schema.runs.c.name,
    schema.runs.c.experiment_id,
    schema.runs.c.status,
    schema.runs.c.start_time,
    schema.runs.c.end_time,
    schema.runs.c.lifecycle_stage,
    schema.runs.c.user_id,
    schema.runs.c.parent_run_pk,
)


def artifact_uri(run_id: str) -> str:
    """The URI under which a run's artifacts are addressed."""
    return f"runs:/{run_id}/"


def experiment_from_row(row: Any, tags: dict[str, str] | None = None) -> Experiment:
    """An :class:`Experiment` from an ``experiments`` row."""
    return Experiment(
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_location=row.artifact_location,
        lifecycle_stage=row.lifecycle_stage,
        creation_time=row.creation_time,
        last_update_time=row.last_update_time,
        tags=tags or {},
    )


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _key_values(
    conn: sa.Connection, table: sa.Table, run_pks: Sequence[int]
) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = defaultdict(dict)
    for chunk in _chunks(run_pks):
        query = sa.select(table.c.run_pk, table.c.key, table.c.value).where(
            _dialect.one_of(table.c.run_pk, chunk, conn)
        )
        for run_pk, key, value in _dialect.fetch_tuples(conn, query):
            out[run_pk][key] = value
    return out


def _latest(conn: sa.Connection, run_pks: Sequence[int]) -> dict[int, dict[str, float]]:
    latest, keys = schema.latest_metrics, schema.metric_keys
    out: dict[int, dict[str, float]] = defaultdict(dict)
    for chunk in _chunks(run_pks):
        query = (
            sa.select(latest.c.run_pk, keys.c.key, latest.c.value)
            .join(keys, keys.c.key_id == latest.c.key_id)
            .where(_dialect.one_of(latest.c.run_pk, chunk, conn))
        )
        for run_pk, key, value in _dialect.fetch_tuples(conn, query):
            out[run_pk][key] = math.nan if value is None else value
    return out


def parent_run_ids(conn: sa.Connection, rows: Sequence[Any]) -> dict[int, str]:
    """run_pk -> run_id of the parents referenced by ``rows``."""
    parents = sorted({r.parent_run_pk for r in rows if r.parent_run_pk is not None})
    out: dict[int, str] = {}
    for chunk in _chunks(parents):
        query = sa.select(schema.runs.c.run_pk, schema.runs.c.run_id).where(
            schema.runs.c.run_pk.in_(chunk)
        )
        out.update(conn.execute(query).all())
    return out


def _details(
    conn: sa.Connection, rows: Sequence[Any]
) -> tuple[
    dict[int, dict[str, str]],
    dict[int, dict[str, str]],
    dict[int, dict[str, float]],
    dict[int, str],
]:
    """Params, tags, latest metrics (by run_pk) and parent run ids of ``rows``."""
    pks = [r.run_pk for r in rows]
    return (
        _key_values(conn, schema.params, pks),
        _key_values(conn, schema.tags, pks),
        _latest(conn, pks),
        parent_run_ids(conn, rows),
    )


#: MLflow's system tags that mirror a run's own fields, added to every run's tags on read.
RUN_NAME_TAG = "mlflow.runName"
PARENT_RUN_TAG = "mlflow.parentRunId"


def _with_derived_tags(
    rows: Sequence[Any], tags: dict[int, dict[str, str]], parents: dict[int, str]
) -> tuple[dict[int, dict[str, str]], dict[int, RunInputs]]:
    """Each run's tags plus ``mlflow.runName`` and ``mlflow.parentRunId`` (as MLflow
    shows them), and its dataset inputs taken out of the tags."""
    out: dict[int, dict[str, str]] = {}
    inputs: dict[int, RunInputs] = {}
    for r in rows:
        derived = {RUN_NAME_TAG: r.name}
        parent = parents.get(r.parent_run_pk)
        if parent is not None:
            derived[PARENT_RUN_TAG] = parent
        stored = tags.get(r.run_pk, {})
        hidden = sorted(k for k in stored if k.startswith(INPUT_TAG_PREFIX))
        if hidden:
            stored = {k: v for k, v in stored.items() if not k.startswith(INPUT_TAG_PREFIX)}
            inputs[r.run_pk] = RunInputs([_dataset_input(tags[r.run_pk][k]) for k in hidden])
        out[r.run_pk] = {**derived, **stored}
    return out, inputs


def _dataset_input(text: str) -> DatasetInput:
    record = json.loads(text)
    return DatasetInput(
        dataset=Dataset(**record["dataset"]),
        tags=[InputTag(str(k), str(v)) for k, v in record["tags"]],
    )


def runs_from_rows(conn: sa.Connection, rows: Sequence[Any]) -> list[Run]:
    """Whole :class:`Run` objects for ``runs`` rows selected with :data:`RUN_COLUMNS`."""
    params, tags, metrics, parents = _details(conn, rows)
    tags, inputs = _with_derived_tags(rows, tags, parents)
    return [
        Run(
            info=RunInfo(
                run_id=r.run_id,
                run_name=r.name,
                experiment_id=str(r.experiment_id),
                status=r.status,
                start_time=r.start_time,
                end_time=r.end_time,
                lifecycle_stage=r.lifecycle_stage,
                artifact_uri=artifact_uri(r.run_id),
                user_id=r.user_id,
                parent_run_id=parents.get(r.parent_run_pk),
            ),
            data=RunData(
                metrics=metrics.get(r.run_pk, {}),
                params=params.get(r.run_pk, {}),
                tags=tags.get(r.run_pk, {}),
            ),
            inputs=inputs.get(r.run_pk, RunInputs()),
        )
        for r in rows
    ]


def runs_frame(conn: sa.Connection, rows: Sequence[Any]) -> pd.DataFrame:
    """A DataFrame in MLflow's ``search_runs`` layout for ``runs`` rows.

    Columns: ``run_id, experiment_id, run_name, status, artifact_uri,
    start_time, end_time, parent_run_id``, then ``metrics.*``, ``params.*``
    and ``tags.*`` in key order. Times are timezone-aware UTC datetimes.
    """
    import pandas as pd

    pks = [r.run_pk for r in rows]
    params, tags, metrics, parents = _details(conn, rows)
    tags, _ = _with_derived_tags(rows, tags, parents)
    columns: dict[str, Any] = {
        "run_id": [r.run_id for r in rows],
        "experiment_id": [str(r.experiment_id) for r in rows],
        "run_name": [r.name for r in rows],
        "status": [r.status for r in rows],
        "artifact_uri": [artifact_uri(r.run_id) for r in rows],
        "start_time": pd.to_datetime([r.start_time for r in rows], unit="ms", utc=True),
        "end_time": pd.to_datetime([r.end_time for r in rows], unit="ms", utc=True),
        "parent_run_id": [parents.get(r.parent_run_pk) for r in rows],
    }
    for prefix, values, missing in (
        ("metrics", metrics, math.nan),
        ("params", params, None),
        ("tags", tags, None),
    ):
        # Each run's dict looked up once, not once per column (40,000 lookups a search).
        gets = [values.get(pk, _EMPTY).get for pk in pks]
        for key in sorted(set().union(*values.values())):
            columns[f"{prefix}.{key}"] = [get(key, missing) for get in gets]
    frame = pd.DataFrame(columns)
    for key in [c for c in columns if c.startswith("metrics.")]:
        frame[key] = frame[key].astype("float64")
    return frame
