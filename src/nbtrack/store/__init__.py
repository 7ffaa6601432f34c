"""The SQL store: schema, migrations, background writer, search, artifacts.

:func:`get_store` hands out one :class:`SqlStore` per tracking URI per
process, so each store has exactly one background writer here. Stores are
flushed and closed at interpreter exit; a forked child starts afresh.
SQLAlchemy is imported on first use, not when ``nbtrack`` is imported.
"""

from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbtrack.store.sql_store import SqlStore

__all__ = ["SqlStore", "close_all", "get_store", "set_durability"]

_stores: dict[str, SqlStore] = {}
#: Stores opened for reading only, until something in this process writes to them.
_readers: dict[str, SqlStore] = {}
_lock = threading.Lock()


def get_store(uri: str, readonly: bool = False) -> SqlStore:
    """The open store for a normalized tracking URI, opening it on first use.

    ``readonly``: for reading only, so nothing is created, migrated or written
    (the store this process opened for writing, if any, serves as well).
    Otherwise the store is opened for writing (created or upgraded as needed),
    except that a store file this process may not write is opened read-only,
    so it can still be read, and any write says why it is refused.
    """
    store = _stores.get(uri)
    if store is not None:
        return store
    if readonly:
        store = _readers.get(uri)
        if store is not None:
            return store
    from nbtrack.store.sql_store import SqlStore

    with _lock:
        store = _stores.get(uri)
        if store is not None:
            return store
        if readonly:
            store = _readers.get(uri)
            if store is None:
                store = _readers[uri] = SqlStore(uri, readonly=True)
            return store
        why = why_not_writable(uri)
        store = _stores[uri] = SqlStore(uri, readonly=bool(why), why_readonly=why)
        reader = _readers.pop(uri, None)
    if reader is not None:
        reader.close()
    return store


def why_not_writable(uri: str) -> str:
    """Why this process may not write the existing SQLite store at ``uri`` ("" if it may)."""
    if not uri.startswith("sqlite:///"):
        return ""
    path = Path(uri[len("sqlite:///") :])
    if not path.is_file():
        return ""  # a new store: creating it reports its own error
    for target in (path, path.parent):
        if not os.access(target, os.W_OK):
            return f"this process may not write {target}"
    return ""


def __getattr__(name: str) -> Any:
    if name == "SqlStore":
        from nbtrack.store.sql_store import SqlStore

        return SqlStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def close_all() -> None:
    """Flush and close every store opened in this process."""
    with _lock:
        stores = [*_stores.values(), *_readers.values()]
        _stores.clear()
        _readers.clear()
    for store in stores:
        store.close()


def set_durability(mode: str | None) -> None:
    """What ``flush()`` guarantees from now on, in this process: ``"normal"`` or ``"full"``.

    ``normal`` (default): flushed values survive the process being killed;
    ``full``: they survive a power loss too (SQLite ``synchronous=FULL``, an
    fsync per write transaction). None goes back to ``NBTRACK_DURABILITY``.
    Stores already open reconnect with the new setting.
    """
    from nbtrack.store import _durability

    _durability.choose(mode)
    with _lock:
        stores = list(_stores.values())
    for store in stores:
        # Idle pooled connections close now; one in use is closed when given back.
        store.engine.dispose()


def _forget_after_fork() -> None:
    # The parent's writer threads do not exist in the child, and its pooled
    # SQLite connections must not be shared: open stores anew on demand.
    for store in (*_stores.values(), *_readers.values()):
        store.engine.dispose(close=False)
    _stores.clear()
    _readers.clear()


atexit.register(close_all)
os.register_at_fork(after_in_child=_forget_after_fork)
