"""The extension's settings and which store a request reads.

The store of a request is the one the notebook's kernel would use by default
(see :mod:`nbtrack.store.locate`): ``NBTRACK_TRACKING_URI`` from the server's
environment, else the nearest ``.nbtrack/`` at or above the notebook's
directory (the kernel's working directory), else above the server's root.
``NbtrackExtension.tracking_uri`` overrides both. Nothing here creates a file.
Where no store exists yet, the URI names where the kernel would create it:
the project's root, as :func:`nbtrack.store.locate.project_root` decides
(the server tells its kernels its root directory through ``NBTRACK_JUPYTER_ROOT``).
"""

from __future__ import annotations

import os
import posixpath
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traitlets import Float, Int, Unicode
from traitlets.config import LoggingConfigurable

from nbtrack.exceptions import InvalidInputError
from nbtrack.store import get_store, locate, why_not_writable
from nbtrack.store.queries import SeriesCache

if TYPE_CHECKING:
    from nbtrack.store.sql_store import SqlStore


class NbtrackExtension(LoggingConfigurable):
    """Settings of the ``nbtrack`` jupyter_server extension (``c.NbtrackExtension...``)."""

    tracking_uri = Unicode(
        "",
        help="Store every request reads, overriding NBTRACK_TRACKING_URI and the .nbtrack/ "
        "directory found from the notebook (empty: find it as the notebook's kernel would).",
    ).tag(config=True)
    reader_threads = Int(
        4,
        help="Threads that run store reads off the server's event loop.",
    ).tag(config=True)
    history_cache_points = Int(
        4_000_000,
        help="Metric points kept in memory between history requests (24 bytes each), so "
        "that polling a growing history reads only its new points.",
    ).tag(config=True)
    history_recheck_interval = Float(
        2.0,
        help="Seconds between checks that the points of a history kept in memory were not "
        "rewritten in place (new points show at once; rewritten ones within this delay).",
    ).tag(config=True)
    orphan_check_interval = Int(
        10,
        help="Seconds between checks for RUNNING runs whose process died (they become "
        "KILLED, as when a store is opened); 0 checks on every request.",
    ).tag(config=True)

    def __init__(self, root_dir: str | os.PathLike[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root_dir = Path(root_dir).expanduser().resolve()
        # Own threads, not the loop's default executor: a burst of slow reads
        # must not starve the server's other blocking work (contents, kernels).
        self.executor = ThreadPoolExecutor(
            max_workers=max(1, self.reader_threads), thread_name_prefix="nbtrack-server"
        )
        # jupyter_server stops only ExtensionApps: let the threads go with the extension.
        weakref.finalize(self, self.executor.shutdown, wait=False)
        self.series = SeriesCache(self.history_cache_points, self.history_recheck_interval)
        self._orphans_checked: dict[str, float] = {}
        self._orphans_lock = threading.Lock()

    def notebook_file(self, notebook: str | None) -> Path | None:
        """The file a server-relative notebook path names (None: no notebook given).

        Refuses paths that would leave the server's root (``..``, NUL, backslashes).
        """
        if notebook is None or not notebook.strip("/"):
            return None
        if "\x00" in notebook or "\\" in notebook:
            raise InvalidInputError(
                f"notebook {notebook!r} is not a server path; pass it as JupyterLab names it, "
                "e.g. 'dir/a.ipynb'"
            )
        relative = posixpath.normpath(notebook.lstrip("/"))
        if relative == ".." or relative.startswith("../"):
            raise InvalidInputError(
                f"notebook {notebook!r} lies outside the server's root; pass a path inside it"
            )
        return self.root_dir / relative

    def tracking_uri_for(self, notebook: str | None) -> str:
        """The tracking URI of the store a request about ``notebook`` reads."""
        if self.tracking_uri:
            return locate.normalize_tracking_uri(self.tracking_uri, base=self.root_dir)
        file = self.notebook_file(notebook)
        # The notebook's kernel runs in the notebook's directory: a relative
        # NBTRACK_TRACKING_URI means a path from there, for the kernel as here.
        start = file.parent if file is not None else self.root_dir
        env = os.environ.get(locate.ENV_TRACKING_URI)
        if env:
            return locate.normalize_tracking_uri(env, base=start)
        store_dir = locate.find_store_dir(start, jupyter_root=self.root_dir)
        return locate.sqlite_uri(store_dir / locate.DB_FILE_NAME)

    def relative_notebook(self, recorded: str | None) -> str | None:
        """A run's recorded notebook path, relative to the server's root when it lies under it."""
        if not recorded:
            return None
        path = Path(recorded)
        for candidate in (path, path.resolve()):
            if candidate.is_absolute() and candidate.is_relative_to(self.root_dir):
                return candidate.relative_to(self.root_dir).as_posix()
        return recorded

    def mark_orphans(self, store: SqlStore) -> None:
        """Mark KILLED the runs of dead processes, at most once per interval per store.

        A store marks them when it is opened; the server keeps its stores open for
        days, and without this a kernel that died would show RUNNING forever.
        Only a read unless a run is found dead.
        """
        now = time.monotonic()
        with self._orphans_lock:
            last = self._orphans_checked.get(store.uri)
            if last is not None and now - last < self.orphan_check_interval:
                return
            self._orphans_checked[store.uri] = now
        if store.readonly:
            # Reading writes nothing: only when a run is found dead, and only in a
            # store this process may write (at the head schema, or it would not be
            # open), is it opened for writing to mark the run.
            if not store.orphaned_run_ids() or why_not_writable(store.uri):
                return
            store = get_store(store.uri)
        killed = store.mark_orphaned_runs_killed()
        if killed:
            self.log.info("nbtrack: runs of dead processes marked KILLED: %s", killed)


def store_exists(uri: str) -> bool:
    """Whether the store at ``uri`` has been created (its database file exists)."""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :]).is_file()
    return True  # a database server: the store is there if the server is
