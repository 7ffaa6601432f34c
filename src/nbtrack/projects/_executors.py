"""Where a sweep's child runs execute: in-process, a local process pool, or Dask.

Each child is a :class:`ChildJob` (plain, picklable data) handed to
:func:`run_child`, which runs the notebook headless (:func:`run_notebook`) and
never raises: a failing child comes back as a FAILED :class:`ChildResult`, so
one failure never stops the others.

- ``local``: ``concurrent.futures.ProcessPoolExecutor`` with the ``spawn``
  start method (``jobs=1``: one after another in this process). Ctrl-C reaches
  the workers too (same process group; they are also sent SIGINT): each marks
  its child KILLED, and jobs not started are dropped.
- ``dask``: ``dask.distributed``; ``scheduler`` is the address of a running
  cluster (its workers must see the notebook and the store at the same paths),
  else a ``LocalCluster`` on 127.0.0.1 with ``jobs`` single-threaded worker
  processes is started for the sweep and closed after it. Ctrl-C marks the
  sweep's parent run KILLED; each running child polls its parent's status
  (signals do not reach a worker's task thread), interrupts its kernel and
  ends KILLED; then the cluster closes. Its worker processes ignore SIGINT, so
  nothing dies half-way.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from nbtrack.entities import RunStatus
from nbtrack.exceptions import InvalidInputError

log = logging.getLogger(__name__)

EXECUTORS = ("local", "dask")
_stop_requested = False  # a pool worker saw Ctrl-C: it starts no more children
#: Seconds Ctrl-C waits for a Dask sweep's running children to end KILLED.
DASK_STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class ChildJob:
    """One combination of a sweep: everything a worker needs to run it."""

    index: int
    notebook: str
    parameters: Mapping[str, Any]
    experiment_id: str
    parent_run_id: str
    tracking_uri: str
    run_name: str | None = None
    kernel: str | None = None
    cell_timeout: float | None = None
    allow_new: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChildResult:
    """How a child ended (``run_id`` None: it failed before its run was created)."""

    index: int
    run_id: str | None
    status: str
    error: str | None = None


def run_child(job: ChildJob) -> ChildResult:
    """Run one child to its end; errors become a FAILED (Ctrl-C: KILLED) result."""
    return _run_child(job, catch_interrupt=True)


def _run_child(job: ChildJob, *, catch_interrupt: bool) -> ChildResult:
    from nbtrack.projects._run import RunInterrupted, read_notebook, run_notebook

    global _stop_requested
    if _stop_requested:
        return ChildResult(job.index, None, RunStatus.KILLED, "interrupted before it started")
    try:
        if _parent_stopped(job):  # Ctrl-C on a Dask sweep: its parent is KILLED
            return ChildResult(job.index, None, RunStatus.KILLED, "interrupted before it started")
        path = Path(job.notebook)
        run = run_notebook(
            read_notebook(path),
            source=path,
            cwd=path.parent,
            parameters=job.parameters,
            experiment_id=job.experiment_id,
            run_name=job.run_name,
            kernel=job.kernel,
            cell_timeout=job.cell_timeout,
            allow_new=job.allow_new,
            tags=job.tags,
            parent_run_id=job.parent_run_id,
            tracking_uri=job.tracking_uri,
            progress=False,
            raise_on_error=False,
            stop=lambda: _parent_stopped(job),
        )
        return ChildResult(
            job.index, run.info.run_id, run.info.status, run.data.tags.get("nbtrack.error")
        )
    except RunInterrupted as exc:
        if not catch_interrupt:
            raise
        _stop_requested = True  # jobs already queued to this worker are skipped
        return ChildResult(job.index, exc.run.info.run_id, RunStatus.KILLED, "interrupted")
    except Exception as exc:  # a worker must report, never die: one child never stops the rest
        log.exception("nbtrack: sweep child %d failed", job.index)
        return ChildResult(job.index, None, RunStatus.FAILED, f"{type(exc).__name__}: {exc}")


def _parent_stopped(job: ChildJob) -> bool:
    """Whether the sweep ended (Ctrl-C marks its parent run KILLED): its children stop too."""
    from nbtrack.client import TrackingClient

    status = TrackingClient(job.tracking_uri).get_run(job.parent_run_id).info.status
    return bool(status != RunStatus.RUNNING)


def _stop_sweep(jobs: Sequence[ChildJob]) -> None:
    """Mark the sweep's parent KILLED: its running children see it, and stop (Dask)."""
    from nbtrack.client import TrackingClient

    for parent_id, uri in {(j.parent_run_id, j.tracking_uri) for j in jobs}:
        client = TrackingClient(uri)
        client.set_terminated(parent_id, RunStatus.KILLED)
        client.flush()


def _on_idle_interrupt(signum: int, frame: FrameType | None) -> None:
    global _stop_requested
    _stop_requested = True


def _ignore_idle_interrupts() -> None:
    """In a pool worker: SIGINT between jobs skips the jobs still to come, without a traceback."""
    signal.signal(signal.SIGINT, _on_idle_interrupt)


def run_jobs(
    jobs: Sequence[ChildJob],
    *,
    executor: str = "local",
    n_jobs: int = 1,
    scheduler: str | None = None,
    dask_processes: bool = True,
    on_result: Callable[[ChildResult], None] | None = None,
) -> list[ChildResult]:
    """Run every job with the chosen executor; results in the order they finish."""
    if executor not in EXECUTORS:
        raise InvalidInputError(f"unknown executor {executor!r}; use 'local' or 'dask'")
    if n_jobs < 1:
        raise InvalidInputError(f"--jobs must be at least 1, not {n_jobs}")
    if scheduler and executor != "dask":
        raise InvalidInputError("--scheduler is for --executor dask; add --executor dask")
    results: list[ChildResult] = []

    def done(result: ChildResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    if not jobs:
        return results
    if executor == "dask":
        _dask(jobs, n_jobs, scheduler, dask_processes, done)
    elif n_jobs == 1 or len(jobs) == 1:
        for job in jobs:
            done(_run_child(job, catch_interrupt=False))
    else:
        _local_pool(jobs, n_jobs, done)
    return results


def _failed(job: ChildJob, exc: BaseException) -> ChildResult:
    return ChildResult(job.index, None, RunStatus.FAILED, f"{type(exc).__name__}: {exc}")


def _local_pool(jobs: Sequence[ChildJob], n_jobs: int, done: Callable[[ChildResult], None]) -> None:
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=min(n_jobs, len(jobs)),
        mp_context=context,
        initializer=_ignore_idle_interrupts,
    )
    futures: dict[Future[ChildResult], ChildJob] = {pool.submit(run_child, j): j for j in jobs}
    try:
        for future in as_completed(futures):
            try:
                done(future.result())
            except Exception as exc:  # a worker process died (BrokenProcessPool)
                done(_failed(futures[future], exc))
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()  # those not handed to a worker yet
        for child in multiprocessing.active_children():
            if child.pid is not None:
                os.kill(child.pid, signal.SIGINT)  # each marks its child run KILLED
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _dask(
    jobs: Sequence[ChildJob],
    n_jobs: int,
    scheduler: str | None,
    processes: bool,
    done: Callable[[ChildResult], None],
) -> None:
    try:
        from dask import distributed
    except ImportError:
        raise InvalidInputError(
            "--executor dask needs dask.distributed: pip install 'nbtrack[dask]'"
        ) from None
    dd: Any = distributed  # untyped
    cluster: Any = None
    if scheduler:
        try:
            client = dd.Client(scheduler, timeout="10s")
        except OSError as exc:
            raise InvalidInputError(
                f"cannot reach the Dask scheduler at {scheduler}: {exc}; check the address "
                "(tcp://host:8786), or leave out --scheduler to start a local cluster"
            ) from None
    else:
        # The worker processes share the terminal's process group: Ctrl-C would kill them
        # mid-child (orphaned kernels, leaked semaphores). They start with SIGINT ignored
        # (inherited through spawn), and this process stops them through the store.
        with _sigint_ignored():
            cluster = dd.LocalCluster(
                n_workers=min(n_jobs, len(jobs)),
                threads_per_worker=1,
                processes=processes,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        client = dd.Client(cluster)
    try:
        futures = [client.submit(run_child, job, pure=False) for job in jobs]
        by_key = {f.key: j for f, j in zip(futures, jobs, strict=True)}
        try:
            for future in dd.as_completed(futures):
                try:
                    done(future.result())
                except Exception as exc:  # the worker died, or the task could not run
                    done(_failed(by_key[future.key], exc))
        except KeyboardInterrupt:
            # Running children see their parent KILLED, interrupt their kernels and end
            # KILLED; the others end at once. A second Ctrl-C stops waiting.
            _stop_sweep(jobs)
            dd.wait(futures, timeout=DASK_STOP_TIMEOUT_S)
            raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored meanwhile (processes started now inherit it); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
