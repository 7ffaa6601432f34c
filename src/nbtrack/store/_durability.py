"""How durable a commit is, and so what ``flush()`` guarantees (SQLite's ``synchronous``).

* ``normal`` (the default): WAL with ``synchronous=NORMAL``. A flushed value
  survives the process being killed (SIGKILL, a kernel restart, an exception);
  the last commits before a power loss or an OS crash may be rolled back
  (never corrupted), because the WAL is synced to disk only at checkpoints.
* ``full``: ``synchronous=FULL``. Every commit syncs the WAL, so a flushed
  value also survives a power loss, for an fsync per write transaction (one
  every ~0.1 s while logging, not one per value).

Chosen with ``NBTRACK_DURABILITY`` (read whenever a connection is opened),
:func:`nbtrack.store.set_durability`, or ``%config Tracker.durability``.
"""

from __future__ import annotations

import os

from nbtrack.exceptions import InvalidInputError

ENV_DURABILITY = "NBTRACK_DURABILITY"
#: Durability mode -> SQLite's ``PRAGMA synchronous`` level.
SYNCHRONOUS = {"normal": "NORMAL", "full": "FULL"}

_chosen: str | None = None  # set_durability's choice; None: the environment's


def check(mode: str) -> str:
    """A durability mode, lower-cased; an error names the choices."""
    value = mode.strip().lower()
    if value not in SYNCHRONOUS:
        raise InvalidInputError(
            f"unknown durability {mode!r}; use 'normal' (survives a killed process) or "
            "'full' (survives a power loss too)"
        )
    return value


def choose(mode: str | None) -> None:
    """Use ``mode`` for connections opened from now on; None: go back to the environment."""
    global _chosen  # one process-wide setting, like the tracking URI
    _chosen = None if mode is None else check(mode)


def current() -> str:
    """The durability mode new connections get."""
    if _chosen is not None:
        return _chosen
    value = os.environ.get(ENV_DURABILITY, "")
    if not value.strip():
        return "normal"
    try:
        return check(value)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{ENV_DURABILITY}: {exc}") from None


def synchronous_pragma() -> str:
    """``PRAGMA synchronous = ...`` for new SQLite connections."""
    return f"PRAGMA synchronous = {SYNCHRONOUS[current()]}"
