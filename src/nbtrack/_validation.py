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
#: Steps are stored as 64-bit integers. (step() and timestamp() repeat these bounds.)
MIN_STEP = -(2**63)
MAX_STEP = 2**63 - 1
#: Timestamps (ms since the epoch) from 1677-09-21 to 2262-04-11: what pandas'
#: nanosecond datetimes hold. A larger value is nearly always seconds mistaken for
#: ms in reverse (``time.time_ns()`` or microseconds), and would break the run table.
MIN_TIMESTAMP_MS = -9_223_372_036_854
MAX_TIMESTAMP_MS = 9_223_372_036_854

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
        # MLflow's wording first ("Invalid metric name"), code ported from it matches on it.
        raise InvalidInputError(
            f"Invalid {what}: {name!r} contains {''.join(bad)!r}; names may only contain "
            "letters, digits, underscores, dashes, periods, spaces, colons and slashes"
        )
    normalized = posixpath.normpath(name)
    if normalized != name or normalized == "." or normalized.startswith(("..", "/")):
        raise InvalidInputError(
            f"Invalid {what}: {name!r} would change meaning as a path (leading '/', '..', "
            "'//' or trailing '/'); write it as a plain relative name such as 'train/loss'"
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
        return _int_as_float(name, value)
    if isinstance(value, bool):
        raise InvalidInputError(
            f"metric {name!r} got a bool ({value}); log float({value}) if you mean "
            f"{float(value)}, or use set_tag for a flag"
        )
    if isinstance(value, numbers.Integral):
        return _int_as_float(name, int(value))
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:
            raise _out_of_float_range(name, value) from None
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


def _int_as_float(name: str, value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        raise _out_of_float_range(name, value) from None


def _out_of_float_range(name: str, value: Any) -> InvalidInputError:
    shown = repr(value)
    shown = shown if len(shown) < 40 else f"{shown[:20]}...{shown[-10:]} ({len(shown)} digits)"
    return InvalidInputError(
        f"metric {name!r} got {shown}, which is out of the range of a float (about "
        "-1.8e308 to 1.8e308); log float('inf') if you mean infinity, or scale the value"
    )


class MetricRows(NamedTuple):
    """A checked batch of metric points in the ``metrics`` table's row shape, not yet queued."""

    #: ``(run_pk, key_id, step, timestamp_ms, value)``; NaN is None. Until the store
    #: interns the names in ``missing``, their rows hold the name in place of the id.
    #: A step of None is the key's next step, given by the writer when it stores the row.
    rows: list[tuple[int, int | str, int | None, int, float | None]]
    #: Each key's last step once these rows are stored, as far as this process knows
    #: (other processes may log next steps of the same key meanwhile).
    last_steps: dict[str, int]
    #: Valid names with no id yet.
    missing: set[str]
    #: Whether a point may replace a stored one (a step not past its key's last).
    rewrite: bool
    #: Whether some rows have a step of None.
    auto: bool


def metric_rows(  # noqa: PLR0912 (checks inlined: a call per point would cost more)
    points: Iterable[Any], run_pk: int, key_ids: Mapping[str, int], last_steps: Mapping[str, int]
) -> MetricRows:
    """Check ``(key, value, timestamp, step)`` points and build their table rows in one pass.

    Checks as :func:`key`, :func:`metric_value`, :func:`timestamp` and :func:`step`
    would, with the common case inline (a key that has an id, a float, an int or
    None step and timestamp: no function call), because this loop runs once per
    point of a ``log_batch`` and bounds its throughput. A missing timestamp is the
    same "now" for the whole batch; a missing step stays None in its row (the
    writer gives it the key's next step as stored, so processes logging to one
    key never collide) and counts as the key's next step here. Nothing is changed
    until the caller queues the result, so a bad point fails the whole batch.
    """
    now = int(time.time() * 1000)
    steps = dict(last_steps)
    missing: set[str] = set()
    rewrite = auto = False
    rows: list[tuple[int, int | str, int | None, int, float | None]] = []
    append = rows.append
    # Locals: this loop runs once per point.
    low_stamp, high_stamp, low_step, high_step = (
        MIN_TIMESTAMP_MS,
        MAX_TIMESTAMP_MS,
        MIN_STEP,
        MAX_STEP,
    )
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
        elif type(stamp) is not int or not low_stamp <= stamp <= high_stamp:
            stamp = timestamp(stamp)
        last = steps.get(name, -1)
        if position is None:
            steps[name] = last + 1 if last < high_step else next_step(name, last)
            auto = True
        else:
            if type(position) is not int:
                position = step(name, position)
            # ``last`` is a valid step: only a step past it can be too large, and
            # only one not past it too small.
            if position > last:
                if position > high_step:
                    step(name, position)
                steps[name] = position
            else:
                if position < low_step:
                    step(name, position)
                rewrite = True
        # v == v is False only for NaN, which is stored as NULL.
        append((run_pk, key_id, position, stamp, value if value == value else None))  # noqa: PLR0124
    return MetricRows(rows, steps, missing, rewrite, auto)


def next_step(name: str, last: int) -> int:
    """The step after ``last``; an error once the largest step is taken."""
    if last >= MAX_STEP:
        raise InvalidInputError(
            f"metric {name!r} already has the largest step ({MAX_STEP}); give later points "
            "explicit steps, or log them under another name"
        )
    return last + 1


def step(name: str, value: Any) -> int | None:
    """A metric step: None (the next step of that metric) or a 64-bit integer."""
    if value is None:
        return None
    # Literals, not MIN_STEP/MAX_STEP: constants cost less than globals on the hot path.
    if type(value) is int and -9_223_372_036_854_775_808 <= value <= 9_223_372_036_854_775_807:
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        number = int(value)
        if MIN_STEP <= number <= MAX_STEP:
            return number
        raise InvalidInputError(
            f"step {number} of metric {name!r} is out of range; steps are 64-bit integers "
            f"from {MIN_STEP} to {MAX_STEP}"
        )
    raise InvalidInputError(
        f"step of metric {name!r} must be an integer, got {type(value).__name__} {value!r}"
    )


def timestamp(value: Any) -> int:
    """A timestamp in ms since the epoch (years 1677 to 2262); None means now."""
    if value is None:
        # time.time(), as MLflow reads it, so code that patches it controls timestamps.
        return int(time.time() * 1000)
    if type(value) is int and -9_223_372_036_854 <= value <= 9_223_372_036_854:
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        number = int(value)
        if MIN_TIMESTAMP_MS <= number <= MAX_TIMESTAMP_MS:
            return number
        hint = ""
        if number > MAX_TIMESTAMP_MS:
            hint = " (time.time_ns() or microseconds? divide by 1e6 or 1e3)"
        raise InvalidInputError(
            f"timestamp {number} is out of range{hint}; timestamps are integer milliseconds "
            f"since the epoch, from {MIN_TIMESTAMP_MS} (1677) to {MAX_TIMESTAMP_MS} (2262), "
            "e.g. int(time.time() * 1000)"
        )
    raise InvalidInputError(
        f"Got invalid timestamp {value!r}: timestamp must be integer milliseconds since the "
        "epoch, e.g. int(time.time() * 1000)"
    )


def text(what: str, value: str) -> str:
    """``value`` unchanged if it can be stored: valid Unicode, without lone surrogates.

    A lone surrogate (``'\\ud800'``, from ``os.fsdecode`` of undecodable bytes or
    ``surrogateescape``) has no UTF-8 form: SQLite could not store it. A NUL
    character is refused on every backend: PostgreSQL text cannot hold one, and a
    value SQLite took would break the run's move to (or a copy into) PostgreSQL.
    """
    if "\x00" in value:
        raise InvalidInputError(
            f"{what} contains a NUL character ('\\x00') at position {value.index(chr(0))}, "
            "which a PostgreSQL store cannot hold (so no store takes it); remove it first, "
            "e.g. value.replace('\\x00', '')"
        )
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{what} holds a lone surrogate {value[exc.start]!r} at position {exc.start}, "
            "which is not valid Unicode and cannot be stored; clean it first, e.g. "
            "value.encode('utf-8', 'replace').decode()"
        ) from None
    return value


def param_value(name: str, value: Any) -> str:
    """A param value as the string that is stored (``str(value)``, as MLflow does)."""
    shown = value if isinstance(value, str) else str(value)
    if len(shown) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidInputError(
            f"param {name!r} is {len(shown)} characters long; the limit is "
            f"{MAX_PARAM_VALUE_LENGTH}. Log large values with log_text or log_dict instead"
        )
    return text(f"param {name!r}", shown)


def tag_value(name: str, value: Any) -> str:
    """A tag value as its stored string."""
    shown = value if isinstance(value, str) else str(value)
    if len(shown) > MAX_TAG_VALUE_LENGTH:
        raise InvalidInputError(
            f"tag {name!r} is {len(shown)} characters long; the limit is {MAX_TAG_VALUE_LENGTH}"
        )
    return text(f"tag {name!r}", shown)


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
    return text("run name", name)


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
    return text("experiment name", name)
