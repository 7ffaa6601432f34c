"""Autologged models are written by one background worker, off the training thread.

Writing a model (serializing it, the ``MLmodel`` and environment files, hashing,
storing the blobs, the artifact rows, registering it) takes tens of
milliseconds, several times a small model's ``fit``. The training thread only
takes a snapshot of what the model is at that moment (a deep copy, and a
copy of the example rows) and queues a job; the worker writes it into the run.

Nothing is lost or half-written: ``end_run`` of the run (a run listener, so
also the end at process exit), ``nbtrack.flush()`` and loading a model by
``runs:/`` URI wait until the jobs queued before them are done, and a process
exiting waits for every job. A job that fails is reported once per
integration (the reporter :mod:`._core` sets here) and never raised into
the user's code. When more than :data:`MAX_PENDING` jobs wait (fits in a tight
loop), the training thread waits for one to finish, so memory stays bounded.

The worker holds the GIL while it serializes, so it waits for a quiet moment:
no autologged call started or ended in the last :data:`QUIET_S` seconds (a
long fit is quiet after its start, so the worker runs beside it). A loop of
small fits is thus not slowed down by the writing of their models, which
happens when the loop pauses, when the queue is full, or when something
waits for the models (``end_run``, ``flush``, a load).
"""

from __future__ import annotations

import atexit
import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from nbtrack import fluent

log = logging.getLogger("nbtrack.autolog")

#: Jobs that may wait before the training thread waits for the worker.
MAX_PENDING = 64
#: Seconds without an autologged call starting or ending before the worker writes.
QUIET_S = 0.02


@dataclass
class _Job:
    seq: int
    run_id: str
    flavor: str
    what: str
    work: Callable[[], None]


class _Worker:
    """A FIFO of jobs run by one daemon thread, started when the first job comes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._jobs: collections.deque[_Job] = collections.deque()
        self._submitted = 0
        self._done = 0
        self._last_of_run: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._waiters = 0  # threads in wait(): the worker writes at once
        self.last_activity = 0.0  # time.monotonic() of the last autologged call's start or end

    def submit(self, run_id: str, flavor: str, what: str, work: Callable[[], None]) -> None:
        """Queue ``work`` (which writes into run ``run_id``); failures are reported as ``what``."""
        if self._on_worker():  # queued from a job: run at once (the worker cannot wait)
            _run(_Job(0, run_id, flavor, what, work))
            return
        with self._cond:
            while self._submitted - self._done >= MAX_PENDING:
                self._cond.wait()
            self._submitted += 1
            self._jobs.append(_Job(self._submitted, run_id, flavor, what, work))
            self._last_of_run[run_id] = self._submitted
            self._start()
            self._cond.notify_all()

    def wait(self, run_id: str | None = None, timeout: float | None = None) -> bool:
        """Wait for the jobs queued so far (of ``run_id`` only, when given); False on timeout."""
        if self._on_worker():
            return True  # the worker waiting for itself would never return
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._submitted if run_id is None else self._last_of_run.get(run_id, 0)
            self._waiters += 1
            self._cond.notify_all()
            try:
                while self._done < target:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    self._cond.wait(left)
            finally:
                self._waiters -= 1
            if run_id is not None and self._last_of_run.get(run_id) == target:
                del self._last_of_run[run_id]
            return True

    def pending(self) -> int:
        """Jobs queued or running."""
        with self._cond:
            return self._submitted - self._done

    def _on_worker(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._loop, name="nbtrack-autolog-models", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._jobs:
                        self._cond.wait()
                        continue
                    if self._waiters or len(self._jobs) >= MAX_PENDING:
                        break
                    quiet = time.monotonic() - self.last_activity
                    if quiet >= QUIET_S:
                        break
                    self._cond.wait(QUIET_S - quiet)
                job = self._jobs.popleft()
            try:
                _run(job)
            finally:
                with self._cond:
                    self._done = job.seq
                    self._cond.notify_all()


#: ``reporter(flavor, what, error)``: how a failed job is told (set by :mod:`._core`,
#: which imports this module: the worker knows nothing of the integrations).
_reporter: Callable[[str, str, BaseException], None] | None = None


def set_failure_reporter(reporter: Callable[[str, str, BaseException], None]) -> None:
    """Tell failed jobs to ``reporter(flavor, what, error)`` (once per integration, there)."""
    global _reporter
    _reporter = reporter


def _run(job: _Job) -> None:
    try:
        job.work()
    except Exception as exc:  # the user's training has returned long ago: report, go on
        if _reporter is not None:
            _reporter(job.flavor, job.what, exc)
        else:
            log.warning("nbtrack: %s autolog could not %s: %s", job.flavor, job.what, exc)


_worker = _Worker()
_hooked = False
_hook_lock = threading.Lock()


def submit(run_id: str, flavor: str, what: str, work: Callable[[], None]) -> None:
    """Queue a job writing into ``run_id``; see the module docstring."""
    _hook()
    _worker.submit(run_id, flavor, what, work)


def wait(run_id: str | None = None, timeout: float | None = None) -> bool:
    """Wait for queued jobs (those of ``run_id`` when given); False if ``timeout`` passed."""
    return _worker.wait(run_id, timeout)


def note_activity() -> None:
    """An autologged call starts or ends: the worker waits for a quiet moment (no I/O)."""
    _worker.last_activity = time.monotonic()


def pending() -> int:
    """Jobs queued or running."""
    return _worker.pending()


def _on_run_event(event: str, run: fluent.ActiveRun) -> None:
    if event == "ending":
        _worker.wait(run.info.run_id)


def _on_flush(timeout: float | None) -> None:
    if not _worker.wait(None, timeout):
        from nbtrack.exceptions import WriteError

        raise WriteError(f"autologged models were still being written after {timeout} s")


def _at_exit() -> None:
    _worker.wait()


def _register_exit_wait() -> None:
    """Wait for the jobs when the main thread ends, before interpreter shutdown begins.

    ``atexit`` is too late: by then ``concurrent.futures`` (whose pools store blobs in
    parallel) refuses new work. Callbacks of ``threading._register_atexit`` run first, in
    reverse order of registration, so registering after ``concurrent.futures.thread`` has
    registered its own makes this one run before it.
    """
    import concurrent.futures.thread  # noqa: F401  (registers its exit hook first)

    register = getattr(threading, "_register_atexit", None)
    if register is None:  # not CPython's threading: the plain exit hook is the best there is
        atexit.register(_at_exit)
        return
    try:
        register(_at_exit)
    except RuntimeError:  # already shutting down: nothing left to wait before
        atexit.register(_at_exit)


def _hook() -> None:
    global _hooked
    with _hook_lock:
        if _hooked:
            return
        fluent.add_run_listener(_on_run_event)
        fluent.add_background_waiter(_on_flush)
        # Runs before fluent's own exit hook: every model is stored before the runs
        # still active are ended and the stores closed.
        _register_exit_wait()
        _hooked = True
