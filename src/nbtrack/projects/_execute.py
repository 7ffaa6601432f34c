"""Headless execution: a notebook run top to bottom in a fresh kernel (nbclient).

:func:`execute` drives nbclient cell by cell so that the caller sees each
cell begin and end (the run's timeline, the progress bar) and so that Ctrl-C
is handled here rather than by nbclient: the first SIGINT (or SIGTERM), or
the caller's ``stop`` turning true, interrupts the kernel, which ends the
running cell with ``KeyboardInterrupt``;
if the cell has not ended after :data:`INTERRUPT_GRACE_S` seconds, or on a
second signal, execution is cancelled. Either way the kernel is shut down
gracefully, so what the notebook logged is flushed by the kernel's exit hooks.
Signals are only caught in the main thread; elsewhere (a Dask worker thread)
they are left alone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import re
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from nbformat import NotebookNode

from nbtrack.entities import RunStatus
from nbtrack.exceptions import InvalidInputError, NbtrackError

if TYPE_CHECKING:
    from nbclient import NotebookClient

log = logging.getLogger(__name__)

#: Seconds a cell gets to end after the kernel is interrupted, before execution is cancelled.
INTERRUPT_GRACE_S = 10.0
#: Seconds between two calls of :func:`execute`'s ``stop``.
STOP_POLL_S = 0.5
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_T = TypeVar("_T")


class KernelStartError(NbtrackError):
    """The kernel could not be started (or did not answer in time)."""


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes (IPython colours its tracebacks)."""
    return _ANSI.sub("", text)


@dataclass(frozen=True, slots=True)
class CellFailure:
    """The cell that failed: its position, source and the kernel's traceback."""

    index: int
    source: str
    ename: str
    evalue: str
    traceback: str

    def describe(self, *, color: bool = False) -> str:
        """The failing cell and its traceback, as printed by ``nbtrack run``."""
        trace = self.traceback if color else strip_ansi(self.traceback)
        rule = "-" * 60
        return (
            f"cell {self.index} failed with {self.ename}: {self.evalue}\n{rule}\n"
            f"{self.source}\n{rule}\n{trace or f'{self.ename}: {self.evalue}'}"
        )


@dataclass
class Execution:
    """What happened when a notebook was executed."""

    notebook: NotebookNode
    failure: CellFailure | None = None
    interrupted: bool = False
    cells_run: int = 0
    language: str = ""
    #: The kernel's value of ``kernel_probe`` (its ``text/plain`` repr), if it gave one.
    probe: str | None = None

    @property
    def status(self) -> RunStatus:
        """KILLED when interrupted, FAILED when a cell failed, else FINISHED."""
        if self.interrupted:
            return RunStatus.KILLED
        return RunStatus.FAILED if self.failure is not None else RunStatus.FINISHED


class CellObserver(Protocol):
    """Told when each code cell begins and ends (the runner's cell timeline)."""

    def begin(self, index: int, cell: NotebookNode, execution_count: int) -> None:
        """A cell is about to be sent to the kernel."""

    def end(self, index: int, cell: NotebookNode, failure: CellFailure | None) -> None:
        """The cell ended (``failure`` None: it succeeded)."""


@dataclass
class _State:
    signals: int = 0
    started: bool = False
    cells: asyncio.Future[None] | None = None
    handles: list[Any] = field(default_factory=list)
    previous: dict[signal.Signals, Any] = field(default_factory=dict)


def check_kernel(kernel_name: str) -> str:
    """The language of an installed kernel; a clear error when it is not installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise InvalidInputError(
            f"no Jupyter kernel named {kernel_name!r} is installed (`jupyter kernelspec list` "
            "shows those that are); pass --kernel python3, or install it"
        ) from None
    return str(spec.language or "")


def kernel_name_of(notebook: NotebookNode, requested: str | None) -> str:
    """The kernel to start: ``requested``, else the notebook's kernelspec, else python3."""
    if requested:
        return requested
    name = notebook.metadata.get("kernelspec", {}).get("name")
    return str(name) if name else "python3"


def execute(
    notebook: NotebookNode,
    *,
    cwd: Path,
    env: Mapping[str, str],
    kernel_name: str,
    cell_timeout: float | None = None,
    progress: bool = False,
    description: str = "",
    observer: CellObserver | None = None,
    python_kernel_args: Sequence[str] = (),
    kernel_probe: str | None = None,
    stop: Callable[[], bool] | None = None,
) -> Execution:
    """Run every code cell of ``notebook`` (in place) in a new kernel; never raises for a cell.

    ``python_kernel_args`` go to the kernel's command line when it is a Python
    kernel (traitlets settings such as ``--Tracker.record_timeline=False``).
    ``kernel_probe``, a Python expression, is evaluated silently in a Python
    kernel before the first cell (no execution count, nothing in the
    notebook); its repr is :attr:`Execution.probe`. ``stop`` is called every
    :data:`STOP_POLL_S` seconds (in a helper thread); once it returns True the
    execution ends as on Ctrl-C (where signals do not reach: a Dask worker thread).
    """
    return _run_coroutine(
        lambda: _execute(
            notebook,
            cwd=cwd,
            env=env,
            kernel_name=kernel_name,
            cell_timeout=cell_timeout,
            progress=progress,
            description=description,
            observer=observer,
            python_kernel_args=python_kernel_args,
            kernel_probe=kernel_probe,
            stop=stop,
        )
    )


def _run_coroutine(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to the end, in a helper thread when this thread has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    # Called from a running event loop (a Jupyter kernel): run beside it.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="nbtrack-run") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


async def _execute(
    notebook: NotebookNode,
    *,
    cwd: Path,
    env: Mapping[str, str],
    kernel_name: str,
    cell_timeout: float | None,
    progress: bool,
    description: str,
    observer: CellObserver | None,
    python_kernel_args: Sequence[str],
    kernel_probe: str | None,
    stop: Callable[[], bool] | None,
) -> Execution:
    from nbclient import NotebookClient
    from tqdm import tqdm  # type: ignore[import-untyped]

    client = NotebookClient(
        notebook,
        timeout=cell_timeout,
        kernel_name=kernel_name,
        allow_errors=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    km = client.create_kernel_manager()
    sockets = None
    if os.name == "posix":
        # Unix sockets: no TCP ports, and no "running over TCP" warning from ipykernel. An
        # absolute path, or the kernel (in cwd) and the client would look in different places.
        sockets = tempfile.TemporaryDirectory(prefix="nbtrack-kernel-")
        km.transport = "ipc"
        km.ip = str(Path(sockets.name) / "kernel")
    spec = km.kernel_spec
    python = spec is not None and str(spec.language).lower() == "python"
    if python:
        client.extra_arguments = [*client.extra_arguments, *python_kernel_args]
    result = Execution(notebook)
    tracebacks: dict[int, str] = {}

    def on_cell_error(cell: NotebookNode, cell_index: int, execute_reply: Any) -> None:
        lines = execute_reply["content"].get("traceback") or []
        tracebacks[cell_index] = "\n".join(lines)

    client.on_cell_error = on_cell_error
    code_cells = [c for c in notebook.cells if _runs(client, c)]
    state = _State()
    loop = asyncio.get_running_loop()
    with tqdm(
        total=len(code_cells),
        desc=description or None,
        unit="cell",
        disable=not progress,
        file=sys.stderr,
        leave=True,
    ) as bar:
        state.cells = asyncio.ensure_future(
            _run_cells(
                client,
                env,
                cwd,
                result,
                state,
                bar,
                observer,
                tracebacks,
                kernel_probe if python else None,
            )
        )
        on_stop = _stopper(loop, state, client, result)
        _install_signal_handlers(loop, state, on_stop)
        watcher = asyncio.ensure_future(_watch(stop, on_stop)) if stop is not None else None
        try:
            await state.cells
        except asyncio.CancelledError:
            if not result.interrupted:
                raise
        finally:
            if watcher is not None:
                watcher.cancel()
            _remove_signal_handlers(loop, state)
            await _shutdown(client)
            if sockets is not None:
                sockets.cleanup()
    return result


async def _run_cells(
    client: NotebookClient,
    env: Mapping[str, str],
    cwd: Path,
    result: Execution,
    state: _State,
    bar: Any,
    observer: CellObserver | None,
    tracebacks: Mapping[int, str],
    kernel_probe: str | None,
) -> None:
    await _start_kernel(client, env, cwd, result)
    state.started = True
    if kernel_probe is not None:
        result.probe = await _probe(client, kernel_probe)
    count = 0
    for index, cell in enumerate(result.notebook.cells):
        if result.interrupted:
            break
        if not _runs(client, cell):
            continue
        count += 1
        if observer is not None:
            observer.begin(index, cell, count)
        try:
            failure = await _execute_cell(client, cell, index, count, tracebacks, result)
        except asyncio.CancelledError:
            if observer is not None:
                observer.end(index, cell, _interrupted(index, cell))
            raise
        result.cells_run = count
        if observer is not None:
            observer.end(index, cell, failure)
        bar.update(1)
        if failure is not None:
            result.failure = failure
            break


async def _start_kernel(
    client: NotebookClient, env: Mapping[str, str], cwd: Path, result: Execution
) -> None:
    from jupyter_core.utils import ensure_async

    try:
        await client.async_start_new_kernel(env=dict(env), cwd=str(cwd))
        await client.async_start_new_kernel_client()
    except (RuntimeError, OSError, TimeoutError) as exc:
        raise KernelStartError(
            f"the {client.kernel_name!r} kernel did not start: {exc}; check that it starts "
            f"with `jupyter console --kernel {client.kernel_name}`"
        ) from exc
    assert client.kc is not None
    reply = await client.async_wait_for_reply(await ensure_async(client.kc.kernel_info()))
    if reply is not None and "language_info" in reply["content"]:
        result.notebook.metadata["language_info"] = reply["content"]["language_info"]
        result.language = str(reply["content"]["language_info"].get("name", ""))


async def _probe(client: NotebookClient, expression: str) -> str | None:
    """``expression`` evaluated silently in the kernel (its repr), or None when it failed."""
    from jupyter_core.utils import ensure_async

    assert client.kc is not None
    msg_id = await ensure_async(
        client.kc.execute(
            "", silent=True, store_history=False, user_expressions={"probe": expression}
        )
    )
    reply = await client.async_wait_for_reply(msg_id)
    value = (reply or {}).get("content", {}).get("user_expressions", {}).get("probe", {})
    if value.get("status") != "ok":
        log.info(
            "nbtrack: the kernel could not evaluate the probe: %s: %s",
            value.get("ename"), value.get("evalue"),
        )  # fmt: skip
        return None
    text = value.get("data", {}).get("text/plain")
    return str(text) if text is not None else None


async def _execute_cell(
    client: NotebookClient,
    cell: NotebookNode,
    index: int,
    count: int,
    tracebacks: Mapping[int, str],
    result: Execution,
) -> CellFailure | None:
    """Run one cell; how it failed, or None."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    try:
        await client.async_execute_cell(cell, index, execution_count=count)
    except CellExecutionError as exc:
        trace = tracebacks.get(index, exc.traceback)
        return CellFailure(index, cell.source, exc.ename, exc.evalue, trace)
    except CellTimeoutError:
        message = f"the cell did not finish within {client.timeout} s (--cell-timeout)"
        return CellFailure(index, cell.source, "CellTimeoutError", message, "")
    except DeadKernelError:
        ename = "KeyboardInterrupt" if result.interrupted else "DeadKernelError"
        return CellFailure(index, cell.source, ename, "the kernel stopped", "")
    return None


def _runs(client: NotebookClient, cell: NotebookNode) -> bool:
    """Whether nbclient executes the cell (code, not blank, not tagged to be skipped)."""
    skipped = client.skip_cells_with_tag in cell.metadata.get("tags", [])
    return cell.cell_type == "code" and bool(cell.source.strip()) and not skipped


def _interrupted(index: int, cell: NotebookNode) -> CellFailure:
    return CellFailure(index, cell.source, "KeyboardInterrupt", "interrupted", "")


def _stopper(
    loop: asyncio.AbstractEventLoop, state: _State, client: NotebookClient, result: Execution
) -> Callable[[], None]:
    """What Ctrl-C does: interrupt the kernel first, cancel after the grace period or a
    second call."""

    def on_signal() -> None:
        state.signals += 1
        result.interrupted = True
        cells = state.cells
        if cells is None or cells.done():
            return
        if state.signals == 1 and state.started and client.km is not None:
            log.info("nbtrack: interrupting the kernel")
            state.handles.append(loop.create_task(_interrupt(client)))
            state.handles.append(loop.call_later(INTERRUPT_GRACE_S, cells.cancel))
        else:
            cells.cancel()

    return on_signal


async def _watch(stop: Callable[[], bool], on_stop: Callable[[], None]) -> None:
    """Poll ``stop`` (in a thread: it may read a store) and act as Ctrl-C once it says so.

    A ``stop`` that raises ends the polling (logged): the cells run on, as without it.
    """
    while True:
        try:
            stopped = await asyncio.to_thread(stop)
        except Exception:  # the caller's check failed: never let it break the execution
            log.warning("nbtrack: the stop check failed; no longer checking", exc_info=True)
            return
        if stopped:
            on_stop()
            return
        await asyncio.sleep(STOP_POLL_S)


def _install_signal_handlers(
    loop: asyncio.AbstractEventLoop, state: _State, on_signal: Callable[[], None]
) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signals reach the main thread only: leave them alone
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        try:
            loop.add_signal_handler(sig, on_signal)
        except (RuntimeError, ValueError, NotImplementedError):
            return  # no signals here (Windows)
        state.previous[sig] = previous


def _remove_signal_handlers(loop: asyncio.AbstractEventLoop, state: _State) -> None:
    """Remove ours and put back the handlers there were before (ignored SIGINT included)."""
    for handle in state.handles:
        handle.cancel()
    for sig, previous in state.previous.items():
        loop.remove_signal_handler(sig)
        signal.signal(sig, previous)


async def _interrupt(client: NotebookClient) -> None:
    from jupyter_core.utils import ensure_async

    if client.km is not None:
        try:
            await ensure_async(client.km.interrupt_kernel())
        except RuntimeError as exc:  # the kernel is already gone
            log.debug("nbtrack: could not interrupt the kernel: %s", exc)


async def _shutdown(client: NotebookClient) -> None:
    """Stop the channels and shut the kernel down (gracefully: its exit hooks flush)."""
    from jupyter_core.utils import ensure_async

    km, kc = client.km, client.kc
    if kc is not None:
        kc.stop_channels()
        client.kc = None
    if km is None:
        return
    try:
        if km.has_kernel:
            await ensure_async(km.shutdown_kernel(now=False))  # also removes its files
    except RuntimeError as exc:  # "No kernel is running!"
        log.debug("nbtrack: kernel shutdown: %s", exc)
    finally:
        client.km = None
