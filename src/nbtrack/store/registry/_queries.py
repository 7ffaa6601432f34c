"""SELECTs behind ``search_registered_models`` and ``search_model_versions``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from nbtrack.exceptions import InvalidInputError
from nbtrack.store.registry._filter import Target, compile_filter
from nbtrack.store.registry._rows import model_tags_t, models_t, version_tags_t, versions_t


def _model_tag(
    key: str, test: Callable[[sa.ColumnElement[Any]], Any] | None
) -> sa.ColumnElement[bool]:
    query = sa.select(model_tags_t.c.key).where(
        model_tags_t.c.model_pk == models_t.c.model_pk, model_tags_t.c.key == key
    )
    if test is not None:
        query = query.where(test(model_tags_t.c.value))
    return sa.exists(query)


def _version_tag(
    key: str, test: Callable[[sa.ColumnElement[Any]], Any] | None
) -> sa.ColumnElement[bool]:
    query = sa.select(version_tags_t.c.key).where(
        version_tags_t.c.model_pk == versions_t.c.model_pk,
        version_tags_t.c.version == versions_t.c.version,
        version_tags_t.c.key == key,
    )
    if test is not None:
        query = query.where(test(version_tags_t.c.value))
    return sa.exists(query)


MODELS = Target(
    "registered models",
    strings={"name": models_t.c.name},
    numbers={
        "creation_timestamp": models_t.c.creation_time,
        "last_updated_timestamp": models_t.c.last_updated_time,
    },
    tag=_model_tag,
)
VERSIONS = Target(
    "model versions",
    strings={
        "name": models_t.c.name,
        "run_id": versions_t.c.run_id,
        "source_path": versions_t.c.source,
        "current_stage": versions_t.c.current_stage,
    },
    numbers={
        "version_number": versions_t.c.version,
        "creation_timestamp": versions_t.c.creation_time,
        "last_updated_timestamp": versions_t.c.last_updated_time,
    },
    tag=_version_tag,
)


def _order(
    order_by: Sequence[str] | None, target: Target, default: list[Any]
) -> list[sa.ColumnElement[Any]]:
    if not order_by:
        return default
    keys: list[sa.ColumnElement[Any]] = []
    for item in order_by:
        words = item.split()
        column = {**target.strings, **target.numbers}.get(words[0]) if words else None
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if column is None or len(words) > 2 or direction not in ("ASC", "DESC"):
            valid = ", ".join(sorted([*target.strings, *target.numbers]))
            raise InvalidInputError(
                f"cannot order {target.what} by {item!r}; use one of {valid}, "
                "optionally followed by ASC or DESC"
            )
        keys.append(column.desc() if direction == "DESC" else column.asc())
    return keys


def models_query(
    filter_string: str | None, order_by: Sequence[str] | None, max_results: int | None
) -> sa.Select[Any]:
    """Registered models matching the filter, by name unless ``order_by`` says otherwise."""
    query = sa.select(models_t)
    condition = compile_filter(MODELS, filter_string)
    if condition is not None:
        query = query.where(condition)
    query = query.order_by(*_order(order_by, MODELS, [models_t.c.name]))
    return query.limit(max_results) if max_results is not None else query


def versions_query(
    filter_string: str | None, order_by: Sequence[str] | None, max_results: int | None
) -> sa.Select[Any]:
    """Model versions matching the filter, newest first unless ``order_by`` says otherwise."""
    query = sa.select(versions_t).join(models_t, models_t.c.model_pk == versions_t.c.model_pk)
    condition = compile_filter(VERSIONS, filter_string)
    if condition is not None:
        query = query.where(condition)
    default = [versions_t.c.creation_time.desc(), versions_t.c.version.desc()]
    query = query.order_by(*_order(order_by, VERSIONS, default))
    return query.limit(max_results) if max_results is not None else query
