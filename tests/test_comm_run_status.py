"""The ``run`` message: the kernel tells the JupyterLab extension which run is active.

In process, a real IPython shell with nbtrack loaded and the ``comm``
package's real ``CommManager`` (only the transport is recorded, see
``_comm_helpers``); the last test opens the comm in a real kernel over ZMQ,
as the extension does, and starts and ends runs the way its toolbar does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import comm
import pytest
from comm.base_comm import CommManager

import nbtrack
from _comm_helpers import (
    HELLO,
    FrontendComm,
    channel_in,
    comm_data,
    execute,
    frontend_closes,
    frontend_opens,
    frontend_sends,
    kernel_opens,
    kernel_sends,
    make_notebook,
    next_comm_data,
    notebook_message,
    tracker_of,
)
from nbtrack import fluent
from nbtrack.notebook._comm import PROTOCOL, SnapshotChannel

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

RUN_KEYS = {
    "run_id",
    "run_name",
    "experiment_id",
    "experiment_name",
    "start_time",
    "tracking_uri",
}


@pytest.fixture
def channel(ip: InteractiveShell, manager: CommManager) -> Iterator[SnapshotChannel]:
    """The loaded extension's channel, registered with ``manager`` as in a kernel."""
    with channel_in(ip, manager) as tracker:
        assert tracker.channel is not None
        yield tracker.channel


def cell(shell: InteractiveShell, code: str, **options: Any) -> None:
    result = shell.run_cell(code, **options)
    assert result.success, result.error_in_exec or result.error_before_exec


def test_hello_then_start_and_end(
    ip: InteractiveShell,
    manager: CommManager,
    channel: SnapshotChannel,
    client: nbtrack.TrackingClient,
) -> None:
    opened = frontend_opens(manager, HELLO)
    assert opened.published == [("comm_msg", {"type": "run", "protocol": PROTOCOL, "run": None})]

    cell(ip, "%track start baseline --experiment mnist")
    active = fluent.active_run()
    assert active is not None
    info = active.info
    assert opened.runs() == [
        None,
        {
            "run_id": info.run_id,
            "run_name": "baseline",
            "experiment_id": info.experiment_id,
            "experiment_name": "mnist",
            "start_time": info.start_time,
            "tracking_uri": client.tracking_uri,
        },
    ]

    cell(ip, "%track end")
    assert opened.runs()[2:] == [None]


def test_end_is_sent_once_the_store_has_it(
    ip: InteractiveShell,
    manager: CommManager,
    channel: SnapshotChannel,
    client: nbtrack.TrackingClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A frontend that reads the run when told it ended reads it FINISHED.

    Also for silent executions: the extension's toolbar runs ``%track end`` so.
    """
    seen: list[tuple[bool, str]] = []  # (run is None, the last run's status in the store)
    run_ids: list[str] = []

    class ReadingFrontend(FrontendComm):
        def publish_msg(self, msg_type: str, data: Any = None, *args: Any, **kw: Any) -> None:
            super().publish_msg(msg_type, data, *args, **kw)
            if msg_type != "comm_msg" or data["type"] != "run":
                return
            if data["run"] is not None:
                run_ids.append(data["run"]["run_id"])
            if run_ids:
                seen.append((data["run"] is None, client.get_run(run_ids[-1]).info.status))

    monkeypatch.setattr(comm, "create_comm", ReadingFrontend)
    frontend_opens(manager, HELLO)
    for silent in (False, True):
        cell(ip, "%track start", silent=silent)
        cell(ip, "%track end", silent=silent)
    # Outside any execution (the kernel exiting, a thread): told at once, end stored.
    cell(ip, "%track start")
    nbtrack.end_run()
    assert seen == [(False, "RUNNING"), (True, "FINISHED")] * 3


def test_restart_sends_the_new_run_only(
    ip: InteractiveShell, manager: CommManager, channel: SnapshotChannel
) -> None:
    opened = frontend_opens(manager, HELLO)
    cell(ip, "%track start first")
    cell(ip, "%track start second")  # ends "first" and starts "second" in one cell
    names = [run["run_name"] if run else None for run in opened.runs()]
    assert names == [None, "first", "second"]


def test_a_run_inside_one_cell(
    ip: InteractiveShell, manager: CommManager, channel: SnapshotChannel
) -> None:
    opened = frontend_opens(manager, HELLO)
    cell(ip, "import nbtrack\nwith nbtrack.start_run(run_name='inner'):\n    pass")
    names = [run["run_name"] if run else None for run in opened.runs()]
    assert names == [None, "inner", None]


def test_nested_runs_show_the_innermost(
    ip: InteractiveShell, manager: CommManager, channel: SnapshotChannel
) -> None:
    opened = frontend_opens(manager, HELLO)
    cell(ip, "import nbtrack\nparent = nbtrack.start_run(run_name='parent')")
    cell(ip, "child = nbtrack.start_run(run_name='child', nested=True)")
    cell(ip, "nbtrack.end_run()")  # the child ends: the parent is active again
    cell(ip, "nbtrack.end_run()")
    names = [run["run_name"] if run else None for run in opened.runs()]
    assert names == [None, "parent", "child", "parent", None]


def test_logging_sends_nothing(
    ip: InteractiveShell, manager: CommManager, channel: SnapshotChannel
) -> None:
    opened = frontend_opens(manager, HELLO)
    cell(ip, "%track start")
    before = list(opened.published)
    cell(ip, "import nbtrack\nfor i in range(50):\n    nbtrack.log_metric('loss', 1 / (i + 1))")
    cell(ip, "x = 1\n%track watch x")
    cell(ip, "x = 2")
    assert opened.published == before


def test_each_hello_is_answered_on_every_open_comm(
    ip: InteractiveShell, manager: CommManager, channel: SnapshotChannel
) -> None:
    first = frontend_opens(manager, HELLO)
    cell(ip, "%track start shared")
    silent = frontend_opens(manager)  # opened without a greeting: told nothing yet
    assert silent.runs() == []
    second = frontend_opens(manager, HELLO)
    run = first.runs()[-1]
    assert run is not None
    assert run["run_name"] == "shared"
    assert second.runs() == [run]
    assert silent.runs() == [run]
    assert first.runs() == [None, run, run]

    frontend_sends(manager, silent, HELLO)  # a hello may also come as a message
    assert silent.runs() == [run, run]
    assert first.runs() == [None, run, run, run]
    frontend_sends(manager, silent, {**HELLO, "protocol": 2})  # ignored: no answer
    assert silent.runs() == [run, run]

    frontend_closes(manager, first)
    cell(ip, "%track end")
    assert first.runs() == [None, run, run, run]
    assert second.runs()[-1] is None


def test_runs_started_and_ended_outside_cells(
    ip: InteractiveShell, manager: CommManager, channel: SnapshotChannel
) -> None:
    opened = frontend_opens(manager, HELLO)
    with nbtrack.start_run(run_name="thread-like"):
        assert [r["run_name"] if r else None for r in opened.runs()] == [None, "thread-like"]
    assert opened.runs()[-1] is None


def test_a_failing_send_never_breaks_the_cell(
    ip: InteractiveShell,
    manager: CommManager,
    channel: SnapshotChannel,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BrokenFrontend(FrontendComm):
        def publish_msg(self, msg_type: str, data: Any = None, *args: Any, **kw: Any) -> None:
            if msg_type == "comm_msg":
                raise RuntimeError("socket closed")
            super().publish_msg(msg_type, data, *args, **kw)

    monkeypatch.setattr(comm, "create_comm", BrokenFrontend)
    frontend_opens(manager, HELLO)  # the greeting's answer fails already
    monkeypatch.setattr(comm, "create_comm", FrontendComm)
    working = frontend_opens(manager, HELLO)
    cell(ip, "%track start")
    cell(ip, "%track end")
    assert [run is None for run in working.runs()] == [True, False, True]
    warnings = [r for r in caplog.records if r.name == "nbtrack.notebook._comm"]
    assert warnings
    assert all(r.levelno == logging.WARNING for r in warnings)
    assert "could not tell the frontend the active run: RuntimeError('socket closed')" in (
        caplog.text
    )


def test_unloading_stops_the_messages(ip: InteractiveShell, manager: CommManager) -> None:
    tracker = tracker_of(ip)
    tracker.channel = SnapshotChannel()
    assert tracker.channel.register(SimpleNamespace(comm_manager=manager))
    opened = frontend_opens(manager, HELLO)
    cell(ip, "%unload_ext nbtrack")  # closes the comm, removes the hooks
    assert opened.published[-1][0] == "comm_close"
    count = len(opened.published)
    with nbtrack.start_run():
        pass
    assert len(opened.published) == count
    cell(ip, "%load_ext nbtrack")


# -- in a real kernel -------------------------------------------------------------------


@pytest.mark.slow
def test_in_a_real_kernel(tmp_path: Path, client: nbtrack.TrackingClient) -> None:
    """The comm opened as the extension opens it; runs started and ended as its toolbar does.

    The kernel inherits this test's store (``NBTRACK_TRACKING_URI``).
    """
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    toolbar = {"silent": True, "store_history": False}
    try:
        kc.wait_for_ready(timeout=60)
        out, _ = execute(kc, "%load_ext nbtrack\nepochs = 5")
        assert out == "", out

        comm_id = kernel_opens(kc, HELLO)
        assert next_comm_data(kc, comm_id) == {"type": "run", "protocol": PROTOCOL, "run": None}
        notebook = make_notebook(
            "%load_ext nbtrack", "lr = 0.01\nepochs = 3\nmodel = None", tags={1: ["parameters"]}
        )
        kernel_sends(kc, comm_id, notebook_message(notebook, path="train.ipynb"))

        out, msgs = execute(kc, "%load_ext nbtrack\n%track start from-toolbar", **toolbar)
        [message] = comm_data(msgs, comm_id)
        run = message["run"]
        assert message["type"] == "run"
        assert set(run) == RUN_KEYS
        assert run["run_name"] == "from-toolbar"
        assert run["experiment_name"] == "Default"
        assert run["tracking_uri"] == client.tracking_uri

        out, msgs = execute(kc, "import nbtrack\nnbtrack.log_metric('loss', 0.5)")
        assert comm_data(msgs, comm_id) == []

        out, msgs = execute(kc, "%track end", **toolbar)
        assert comm_data(msgs, comm_id) == [{"type": "run", "protocol": PROTOCOL, "run": None}]

        stored = client.get_run(run["run_id"])
        assert stored.info.status == "FINISHED"
        # The parameters cell: the kernel's epochs, the cell's literal lr, model is None.
        assert stored.data.params == {"lr": "0.01", "epochs": "5", "model": "None"}
        assert stored.data.metrics == {"loss": 0.5}

        # A kernel shut down with a run active ends it; telling the frontend must not hang it.
        out, msgs = execute(kc, "%track start at-shutdown")
        [message] = comm_data(msgs, comm_id)
        last_id = message["run"]["run_id"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    assert client.get_run(last_id).info.status == "FINISHED"
