"""Checks on what users log, with errors that name the problem and the fix.

Limits and the key alphabet are MLflow's, so anything accepted here can be
moved to MLflow and back. The metric checks sit on the hot path: the common
cases (a float or an int value, a key seen before) cost a type check and a
set lookup.
"""

from __future__ import annotations

import numbers
import posixpath
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from nbtrack.exceptions import InvalidInputError

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_RUN_NAME_LENGTH = 250
MAX_EXPERIMENT_NAME_LENGTH = 256

_KEY_PATTERN = re.compile(r"^[/\w.\- :]*$")
_valid_keys: set[str] = set()


def key(name: Any, what: str = "key") -> str:
    """A param, metric or tag name: 1-250 of letters, digits, ``_ - . : /`` and spaces."""
    if type(name) is str and name in _valid_keys:
        return name
    if not isinstance(name, str):
        raise InvalidInputError(f"{what} must be a string, got {type(name).__name__} {name!r}")
    if not name:
        raise InvalidInputError(f"{what} is empty; give it a name such as 'loss'")
    if len(name) > MAX_KEY_LENGTH:
        raise InvalidInputError(
            f"{what} {name[:40]!r}... is {len(name)} characters; the limit is {MAX_KEY_LENGTH}"
        )
    if not _KEY_PATTERN.match(name):
        bad = sorted({c for c in name if not re.match(r"[/\w.\- :]", c)})
        raise InvalidInputError(
            f"{what} {name!r} contains {''.join(bad)!r}; names may only contain letters, "
            "digits, underscores, dashes, periods, spaces, colons and slashes"
        )
    normalized = posixpath.normpath(name)
    if normalized != name or normalized == "." or normalized.startswith(("..", "/")):
        raise InvalidInputError(
            f"{what} {name!r} would change meaning as a path (leading '/', '..', '//' or "
            "trailing '/'); write it as a plain relative name such as 'train/loss'"
        )
    if len(_valid_keys) < 100_000:
        _valid_keys.add(name)
    return name


def metric_value(name: str, value: Any) -> float:
    """A metric value as float. Numbers and numpy/torch scalars are accepted; NaN and inf kept."""
    kind = type(value)
    if kind is float:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return float(value)
    if isinstance(value, bool):
        raise InvalidInputError(
            f"metric {name!r} got a bool ({value}); log float({value}) if you mean "
            f"{float(value)}, or use set_tag for a flag"
        )
    if isinstance(value, numbers.Real):
        return float(value)
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return metric_value(name, value.item())  # 0-d numpy array, torch scalar tensor
    plain, shown = str(value), repr(value)
    plain = plain if len(plain) < 40 else plain[:37] + "..."
    shown = shown if len(shown) < 40 else shown[:37] + "..."
    # MLflow's wording first (code ported from MLflow matches on it), then ours.
    raise InvalidInputError(
        f"Got invalid value {plain} for metric {name!r}: metric {name!r} must be a number, "
        f"got {type(value).__name__} {shown}. Please specify value as a valid double: "
        "float(x), or log_param / set_tag for text"
    )


class MetricRows(NamedTuple):
    """A checked batch of metric points in the ``metrics`` table's row shape, not yet queued."""

    #: ``(run_pk, key_id, step, timestamp_ms, value)``; NaN is None. Until the store
    #: interns the names in ``missing``, their rows hold the name in place of the id.
    rows: list[tuple[int, int | str, int, int, float | None]]
    #: Each key's last step once these rows are stored.
    last_steps: dict[str, int]
    #: Valid names with no id yet.
    missing: set[str]
    #: Whether a point may replace a stored one (a step not past its key's last).
    rewrite: bool


def metric_rows(
    points: Iterable[Any], run_pk: int, key_ids: Mapping[str, int], last_steps: Mapping[str, int]
) -> MetricRows:
    """Check ``(key, value, timestamp, step)`` points and build their table rows in one pass.

    Checks as :func:`key`, :func:`metric_value`, :func:`timestamp` and :func:`step`
    would, with the common case inline (a key that has an id, a float, an int or
    None step and timestamp: no function call), because this loop runs once per
    point of a ``log_batch`` and bounds its throughput. A missing timestamp is the
    same "now" for the whole batch; a missing step is the key's next one. Nothing
    is changed until the caller queues the result, so a bad point fails the
    whole batch.
    """
    now = int(time.time() * 1000)
    steps = dict(last_steps)
    missing: set[str] = set()
    rewrite = False
    rows: list[tuple[int, int | str, int, int, float | None]] = []
    append = rows.append
    for name, value, stamp, position in points:
        key_id: int | str | None = key_ids.get(name) if type(name) is str else None
        if key_id is None:
            name = key(name, "metric name")
            key_id = key_ids.get(name)
            if key_id is None:
                missing.add(name)
                key_id = name
        if type(value) is not float:
            value = metric_value(name, value)
        if stamp is None:
            stamp = now
        elif type(stamp) is not int:
            stamp = timestamp(stamp)
        last = steps.get(name, -1)
        if position is None:
            position = last + 1
        elif type(position) is not int:
            position = step(name, position)
        if position > last:
            steps[name] = position
        else:
            rewrite = True
        # v == v is False only for NaN, which is stored as NULL.
        append((run_pk, key_id, position, stamp, value if value == value else None))  # noqa: PLR0124
    return MetricRows(rows, steps, missing, rewrite)


def step(name: str, value: Any) -> int | None:
    """A metric step: None (the next step of that metric) or an integer."""
    if value is None or type(value) is int:
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    raise InvalidInputError(
        f"step of metric {name!r} must be an integer, got {type(value).__name__} {value!r}"
    )


def timestamp(value: Any) -> int:
    """A timestamp in ms since the epoch; None means now."""
    if value is None:
        # time.time(), as MLflow reads it, so code that patches it controls timestamps.
        return int(time.time() * 1000)
    if type(value) is int:
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    raise InvalidInputError(
        f"timestamp must be integer milliseconds since the epoch, got {value!r}"
    )


def param_value(name: str, value: Any) -> str:
    """A param value as the string that is stored (``str(value)``, as MLflow does)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidInputError(
            f"param {name!r} is {len(text)} characters long; the limit is "
            f"{MAX_PARAM_VALUE_LENGTH}. Log large values with log_text or log_dict instead"
        )
    return text


def tag_value(name: str, value: Any) -> str:
    """A tag value as its stored string."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidInputError(
            f"tag {name!r} is {len(text)} characters long; the limit is {MAX_TAG_VALUE_LENGTH}"
        )
    return text


def run_name(name: Any) -> str | None:
    """A run name (None lets the store choose one)."""
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"run name must be a non-empty string, got {name!r}")
    if len(name) > MAX_RUN_NAME_LENGTH:
        raise InvalidInputError(
            f"run name is {len(name)} characters; the limit is {MAX_RUN_NAME_LENGTH}"
        )
    return name


def experiment_name(name: Any) -> str:
    """An experiment name: a non-empty string of at most 256 characters."""
    if not isinstance(name, str) or not name.strip():
        # MLflow's wording first (code ported from MLflow matches on it), then ours.
        shown = (
            f"'{name}'" if name is None or isinstance(name, str) else f"{name}. Expects a string."
        )
        raise InvalidInputError(
            f"Invalid experiment name: {shown} (experiment name must be a non-empty string, "
            f"got {name!r})"
        )
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidInputError(
            f"experiment name is {len(name)} characters; the limit is {MAX_EXPERIMENT_NAME_LENGTH}"
        )
    return name
