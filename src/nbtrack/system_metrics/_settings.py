"""Whether and how often system metrics are sampled: process-wide settings.

MLflow keeps these in environment variables, and so do we, under both names
(``MLFLOW_*`` first, so code written for MLflow behaves the same, then
``NBTRACK_*``). Reading them imports nothing heavy: ``start_run`` asks
:func:`enabled` for every run.
"""

from __future__ import annotations

import os

from nbtrack.exceptions import InvalidInputError

ENABLE_VARS = ("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "NBTRACK_ENABLE_SYSTEM_METRICS_LOGGING")
INTERVAL_VARS = (
    "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL",
    "NBTRACK_SYSTEM_METRICS_SAMPLING_INTERVAL",
)
SAMPLES_VARS = (
    "MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING",
    "NBTRACK_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING",
)
NODE_VARS = ("MLFLOW_SYSTEM_METRICS_NODE_ID", "NBTRACK_SYSTEM_METRICS_NODE_ID")

DEFAULT_INTERVAL = 10.0
#: In a notebook run, a cell that ends at least this long after the last sample
#: triggers one more (so a short cell still shows the memory it left behind).
MIN_CELL_GAP = 1.0
MIN_INTERVAL = 0.1  # below this the sampler itself would cost more than it shows

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def _first(names: tuple[str, ...]) -> tuple[str, str] | None:
    for name in names:
        value = os.environ.get(name)
        if value is not None:
            return name, value
    return None


def enabled() -> bool:
    """Whether runs log system metrics unless ``start_run(log_system_metrics=...)`` says."""
    found = _first(ENABLE_VARS)
    if found is None:
        return False
    name, value = found
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInputError(f"{name}={value!r}: use true or false")


def set_enabled(on: bool) -> None:
    """Turn system metrics on or off for runs started from now on (both variable names)."""
    for name in ENABLE_VARS:
        os.environ[name] = "true" if on else "false"


def sampling_interval() -> float:
    """Seconds between samples (default 10)."""
    found = _first(INTERVAL_VARS)
    if found is None:
        return DEFAULT_INTERVAL
    name, value = found
    try:
        seconds = float(value)
    except ValueError:
        raise InvalidInputError(f"{name}={value!r} is not a number of seconds") from None
    return check_interval(seconds, name)


def check_interval(seconds: float, what: str = "interval") -> float:
    """``seconds`` if it is a usable sampling interval, else a clear error."""
    if not seconds >= MIN_INTERVAL or seconds == float("inf"):
        raise InvalidInputError(
            f"{what}={seconds!r}: the sampling interval is a number of seconds >= {MIN_INTERVAL}"
        )
    return float(seconds)


def samples_before_logging() -> int:
    """Samples averaged into each logged point (default 1: every sample is logged)."""
    found = _first(SAMPLES_VARS)
    if found is None:
        return 1
    name, value = found
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise InvalidInputError(f"{name}={value!r}: use a whole number >= 1")
    return count


def node_id() -> str | None:
    """A machine's name inside metric keys (``system/<node>/...``) for multi-node training."""
    found = _first(NODE_VARS)
    return found[1].strip("/") or None if found else None


def _set(names: tuple[str, ...], value: str | None) -> None:
    for name in names:
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def set_interval(seconds: float | None) -> None:
    """Set (None: reset to 10 s) the interval for monitors started from now on."""
    _set(INTERVAL_VARS, None if seconds is None else repr(check_interval(seconds)))


def set_samples(samples: int | None) -> None:
    """Set (None: reset to 1) how many samples are averaged into one logged point."""
    if samples is not None and (not isinstance(samples, int) or samples < 1):
        raise InvalidInputError(f"samples={samples!r}: use a whole number >= 1")
    _set(SAMPLES_VARS, None if samples is None else str(samples))


def set_node(node: str | None) -> None:
    """Set (None: unset) the node id put into system metric keys."""
    _set(NODE_VARS, node)


def wanted(log_system_metrics: bool | None) -> bool:
    """Whether a run started with this ``log_system_metrics`` gets a sampler.

    Raises :class:`InvalidInputError` when it does but psutil is missing, before
    the run is created.
    """
    want = enabled() if log_system_metrics is None else bool(log_system_metrics)
    if want:
        import importlib.util

        if importlib.util.find_spec("psutil") is None:
            raise InvalidInputError(
                "system metrics need psutil (a dependency of nbtrack): pip install psutil (or pass "
                "log_system_metrics=False / call nbtrack.disable_system_metrics_logging())"
            )
    return want
