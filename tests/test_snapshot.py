"""Notebook snapshots: the comm channel, the timeline notebook, and picking a source.

The comm tests drive the ``comm`` package's real ``CommManager`` with the
messages a frontend sends (see ``_comm_helpers``). The last test does it all
in a real kernel.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nbformat
import pytest
from comm.base_comm import CommManager

from _comm_helpers import (
    HELLO,
    FrontendComm,
    comm_data,
    execute,
    frontend_closes,
    frontend_opens,
    frontend_sends,
    kernel_opens,
    kernel_sends,
    make_notebook,
    notebook_message,
)
from nbtrack.entities import CellEvent
from nbtrack.notebook._comm import PROTOCOL, TARGET, SnapshotChannel
from nbtrack.notebook._notebook_json import InvalidNotebookError, notebook_bytes, parse_notebook
from nbtrack.notebook._snapshot import Snapshot, notebook_from_timeline, take_snapshot

COMM_LOG = "nbtrack.notebook._comm"
SNAPSHOT_LOG = "nbtrack.notebook._snapshot"


@pytest.fixture
def channel(manager: CommManager) -> Iterator[SnapshotChannel]:
    ch = SnapshotChannel()
    assert ch.register(SimpleNamespace(comm_manager=manager))
    yield ch
    ch.unregister()


def event(seq: int, cell_id: str | None = None, **changes: Any) -> CellEvent:
    fields: dict[str, Any] = {
        "seq": seq,
        "cell_id": cell_id,
        "execution_count": seq,
        "source": f"x = {seq}",
        "start_time": 1_700_000_000_000 + seq,
        "duration_ms": 5,
        "outcome": "ok",
    }
    fields.update(changes)
    return CellEvent(**fields)


# -- the comm channel -----------------------------------------------------------------


def test_register_outside_a_kernel(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=COMM_LOG)
    assert SnapshotChannel().register(None) is False
    assert "no kernel" in caplog.text


def test_register_falls_back_to_the_comm_package_manager(manager: CommManager) -> None:
    ch = SnapshotChannel()
    assert ch.register(SimpleNamespace())  # a kernel without comm_manager (old ipykernel)
    assert TARGET in manager.targets
    ch.unregister()
    assert TARGET not in manager.targets


def test_frontend_session(manager: CommManager, channel: SnapshotChannel) -> None:
    assert not channel.connected
    assert channel.latest() is None
    assert channel.request() is False

    opened = frontend_opens(manager, HELLO)
    assert channel.connected
    assert channel.frontend == "jupyterlab-nbtrack 0.1.0"

    before = time.time()
    frontend_sends(manager, opened, notebook_message(make_notebook("a = 1")))
    latest = channel.latest()
    assert latest is not None
    notebook, path, received_at = latest
    assert notebook.cells[0].source == "a = 1"
    assert path == "dir/a.ipynb"
    assert before <= received_at <= time.time()

    assert channel.request() is True
    assert opened.published[-1] == ("comm_msg", {"type": "request", "protocol": PROTOCOL})

    frontend_closes(manager, opened)
    assert not channel.connected
    assert channel.request() is False
    assert channel.latest() is not None  # the last copy stays


def test_latest_notebook_wins(manager: CommManager, channel: SnapshotChannel) -> None:
    opened = frontend_opens(manager, HELLO)
    frontend_sends(manager, opened, notebook_message(make_notebook("first")))
    frontend_sends(manager, opened, notebook_message(make_notebook("second"), path=None))
    latest = channel.latest()
    assert latest is not None
    assert [c.source for c in latest[0].cells] == ["second"]
    assert latest[1] is None


def test_received_notebook_is_a_copy(manager: CommManager, channel: SnapshotChannel) -> None:
    sent = make_notebook("a = 1")
    channel.handle_message(notebook_message(sent))
    sent["cells"][0]["source"] = "changed"
    latest = channel.latest()
    assert latest is not None
    assert latest[0].cells[0].source == "a = 1"


def _with_cells(*cells: dict[str, Any], minor: int = 5) -> dict[str, Any]:
    return {"nbformat": 4, "nbformat_minor": minor, "metadata": {}, "cells": list(cells)}


CELL = {"id": "c1", "cell_type": "markdown", "source": "# hi", "metadata": {}}

INVALID_MESSAGES = {
    "not an object": (["notebook"], "not an object"),
    "unknown type": ({"type": "request", "protocol": 1}, "unknown type 'request'"),
    "no type": ({"protocol": 1, "notebook": make_notebook()}, "unknown type None"),
    "newer protocol": ({**notebook_message(make_notebook()), "protocol": 2}, "protocol 2"),
    "no protocol": ({"type": "notebook", "notebook": make_notebook()}, "protocol None"),
    "boolean protocol": ({**notebook_message(make_notebook()), "protocol": True}, "protocol True"),
    "path not a string": (notebook_message(make_notebook(), path=3), "path is 3"),  # type: ignore[arg-type]
    "notebook missing": ({"type": "notebook", "protocol": 1}, "not NoneType"),
    "nbformat 3": (notebook_message({**make_notebook(), "nbformat": 3}), "nbformat is 3"),
    "nbformat as string": (notebook_message({**make_notebook(), "nbformat": "4"}), "'4'"),
    "minor not int": (notebook_message({**make_notebook(), "nbformat_minor": None}), "minor"),
    "cells not a list": (notebook_message({**make_notebook(), "cells": {}}), "cells is not a list"),
    "cell without id": (
        notebook_message(_with_cells({k: v for k, v in CELL.items() if k != "id"})),
        "has no id",
    ),
    "duplicate ids": (notebook_message(_with_cells(CELL, CELL)), "not unique"),
    "bad cell type": (
        notebook_message(_with_cells({**CELL, "cell_type": "bogus"})),
        "invalid notebook",
    ),
    "no metadata": (
        notebook_message({k: v for k, v in make_notebook().items() if k != "metadata"}),
        "invalid notebook",
    ),
}


@pytest.mark.parametrize(("data", "logged"), INVALID_MESSAGES.values(), ids=INVALID_MESSAGES)
def test_invalid_messages_are_logged_and_ignored(
    manager: CommManager,
    channel: SnapshotChannel,
    caplog: pytest.LogCaptureFixture,
    data: object,
    logged: str,
) -> None:
    opened = frontend_opens(manager, HELLO)
    good = make_notebook("kept")
    frontend_sends(manager, opened, notebook_message(good))
    caplog.clear()
    frontend_sends(manager, opened, data)
    assert [r.levelno for r in caplog.records if r.name == COMM_LOG] == [logging.WARNING]
    assert logged in caplog.text
    latest = channel.latest()
    assert latest is not None
    assert latest[0] == nbformat.from_dict(good)


def test_hello_of_another_protocol_is_ignored(
    manager: CommManager, channel: SnapshotChannel, caplog: pytest.LogCaptureFixture
) -> None:
    frontend_opens(manager, {**HELLO, "protocol": 2})
    assert channel.connected  # the comm is open; its messages are what get ignored
    assert channel.frontend is None
    assert "protocol 2" in caplog.text


def test_unregister_closes_comms_and_removes_the_target(
    manager: CommManager, channel: SnapshotChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=COMM_LOG)
    opened = frontend_opens(manager, HELLO)
    frontend_sends(manager, opened, notebook_message(make_notebook()))
    channel.unregister()
    assert TARGET not in manager.targets
    assert opened.published[-1][0] == "comm_close"
    assert opened.comm_id not in manager.comms
    assert not channel.connected
    assert channel.latest() is None
    channel.unregister()  # twice is harmless

    # Someone else removed the target, and a comm the manager never knew.
    channel.register(SimpleNamespace(comm_manager=manager))
    stray = FrontendComm(primary=False, target_name=TARGET)
    manager.targets[TARGET](stray, {"content": {"data": {}}})
    manager.unregister_target(TARGET, manager.targets[TARGET])
    channel.unregister()
    assert "already unregistered" in caplog.text
    assert "was not registered with the comm manager" in caplog.text


# -- parse_notebook -------------------------------------------------------------------


def test_parse_accepts_v4_4_without_ids() -> None:
    old = _with_cells({k: v for k, v in CELL.items() if k != "id"}, minor=4)
    assert parse_notebook(old).cells[0].source == "# hi"


def test_parse_reads_the_file_form() -> None:
    # Files store multi-line text as lists of lines; in memory nbformat joins them.
    on_disk = {**make_notebook(), "metadata": {"orig_nbformat": 3}}
    on_disk["cells"] = [{**CELL, "source": ["# a\n", "b"], "metadata": {"trusted": True}}]
    notebook = parse_notebook(on_disk)
    assert notebook.cells[0].source == "# a\nb"
    assert notebook.metadata == {}
    assert notebook.cells[0].metadata == {}


def test_parse_rejects_non_objects() -> None:
    with pytest.raises(InvalidNotebookError, match="JSON object"):
        parse_notebook("{}")


# -- the timeline notebook ------------------------------------------------------------


def test_timeline_notebook_is_valid_and_in_execution_order() -> None:
    events = [
        event(3, "c-b", execution_count=7),
        event(1, "c-a"),
        event(2, "c-b", outcome="error", error_type="ValueError", error_message="bad"),
        event(4, None, outcome="running", duration_ms=None, execution_count=None),
    ]
    notebook = notebook_from_timeline(events)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata.language_info.name == "python"
    assert [c.metadata.nbtrack.seq for c in notebook.cells] == [1, 2, 3, 4]
    assert [c.execution_count for c in notebook.cells] == [1, 2, 7, None]
    assert [c.source for c in notebook.cells] == ["x = 1", "x = 2", "x = 3", "x = 4"]
    # c-b ran twice: its second run needs another id; the original stays in metadata.
    assert [c.id for c in notebook.cells] == ["c-a", "c-b", "nbtrack-3", "nbtrack-4"]
    assert notebook.cells[2].metadata.nbtrack.cell_id == "c-b"

    failed = notebook.cells[1]
    assert failed.outputs == [
        {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": []}
    ]
    assert failed.metadata.nbtrack == {
        "seq": 2,
        "cell_id": "c-b",
        "outcome": "error",
        "start_time": 1_700_000_000_002,
        "duration_ms": 5,
        "error_type": "ValueError",
        "error_message": "bad",
    }
    assert notebook.cells[0].outputs == []
    assert notebook.cells[3].outputs == []
    assert notebook.cells[3].metadata.nbtrack.outcome == "running"


def test_timeline_generates_ids_for_invalid_ones() -> None:
    events = [
        event(1, "not valid!"),
        event(2, "x" * 65),
        event(3, ""),
        event(4, "nbtrack-1"),  # a real id equal to a generated one
        event(5, "ok_id-5"),
    ]
    notebook = notebook_from_timeline(events)
    nbformat.validate(notebook)
    assert [c.id for c in notebook.cells] == [
        "nbtrack-1",
        "nbtrack-2",
        "nbtrack-3",
        "nbtrack-4",
        "ok_id-5",
    ]


def test_timeline_error_without_details_and_other_language() -> None:
    notebook = notebook_from_timeline([event(1, outcome="error")], language="julia")
    nbformat.validate(notebook)
    assert notebook.cells[0].outputs[0].ename == "Error"
    assert notebook.cells[0].outputs[0].evalue == ""
    assert notebook.metadata.language_info.name == "julia"


def test_timeline_bytes_are_deterministic() -> None:
    events = [event(1, "c-a"), event(2), event(3, "c-a", outcome="error", error_type="E")]
    first = notebook_bytes(notebook_from_timeline(events))
    second = notebook_bytes(notebook_from_timeline(list(reversed(events))))
    assert first == second
    assert json.loads(first)["cells"][1]["id"] == "nbtrack-2"


def test_empty_timeline() -> None:
    notebook = notebook_from_timeline([])
    nbformat.validate(notebook)
    assert notebook.cells == []


# -- take_snapshot --------------------------------------------------------------------


@pytest.fixture
def on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The notebook file, found through JPY_SESSION_NAME (no Jupyter server runs)."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    path = tmp_path / "on-disk.ipynb"
    nbformat.write(nbformat.from_dict(make_notebook("from disk")), path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    return path


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="nbtrack.notebook")
    return caplog


def _valid(snapshot: Snapshot) -> Snapshot:
    nbformat.validate(snapshot.notebook)
    assert snapshot.content == nbformat.writes(snapshot.notebook).encode()
    nbformat.validate(nbformat.reads(snapshot.content.decode(), as_version=4))
    return snapshot


def test_snapshot_prefers_the_live_notebook(
    manager: CommManager, channel: SnapshotChannel, on_disk: Path
) -> None:
    opened = frontend_opens(manager, HELLO)
    frontend_sends(manager, opened, notebook_message(make_notebook("live, unsaved")))
    snapshot = _valid(take_snapshot(channel, {}, [event(1)]))
    assert snapshot.source == "live"
    assert snapshot.path == Path("dir/a.ipynb")
    assert snapshot.notebook.cells[0].source == "live, unsaved"
    again = take_snapshot(channel, {}, [event(1)])
    assert again.content == snapshot.content


def test_old_live_copy_is_current_while_the_frontend_is_connected(
    manager: CommManager, channel: SnapshotChannel, on_disk: Path
) -> None:
    # A long cell delays the frontend's messages; the last copy still is the notebook.
    opened = frontend_opens(manager, HELLO)
    frontend_sends(manager, opened, notebook_message(make_notebook("live")))
    time.sleep(0.01)
    assert take_snapshot(channel, {}, [], max_age_s=0.001).source == "live"


def test_stale_live_copy_of_a_gone_frontend_falls_back_to_the_file(
    channel: SnapshotChannel, on_disk: Path, debug_log: pytest.LogCaptureFixture
) -> None:
    channel.handle_message(notebook_message(make_notebook("live")))
    time.sleep(0.01)
    snapshot = _valid(take_snapshot(channel, {}, [event(1)], max_age_s=0.001))
    assert snapshot.source == "file"
    assert snapshot.path == on_disk
    assert snapshot.notebook.cells[0].source == "from disk"
    assert "the frontend is gone" in debug_log.text
    # The file's bytes are nbformat's, as written by nbformat (JupyterLab writes the same).
    assert snapshot.content == on_disk.read_bytes().rstrip(b"\n")


def test_no_channel_falls_back_to_the_file(
    on_disk: Path, debug_log: pytest.LogCaptureFixture
) -> None:
    assert _valid(take_snapshot(None, {}, [])).source == "file"
    assert "live skipped: no comm channel" in debug_log.text


def test_silent_frontend_falls_back_to_the_file(
    channel: SnapshotChannel, on_disk: Path, debug_log: pytest.LogCaptureFixture
) -> None:
    assert _valid(take_snapshot(channel, {}, [])).source == "file"
    assert "sent no notebook yet" in debug_log.text


def test_no_notebook_path_falls_back_to_the_timeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug_log: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    events = [event(1, "c-a"), event(2, "c-b", outcome="error", error_type="KeyError")]
    snapshot = _valid(take_snapshot(None, {}, events))
    assert snapshot.source == "timeline"
    assert snapshot.path is None
    assert snapshot.content == notebook_bytes(notebook_from_timeline(events))
    assert "file skipped: the notebook's path was not found" in debug_log.text


@pytest.mark.parametrize(
    ("content", "logged"),
    [
        (b"\xff\xfe not json", "on-disk.ipynb"),
        (b'{"nbformat": 4, "nbformat_minor": 5, "cells": []}', "invalid notebook"),
        (json.dumps(_with_cells(CELL, CELL)).encode(), "not unique"),
    ],
    ids=["not json", "schema", "duplicate ids"],
)
def test_bad_file_falls_back_to_the_timeline(
    on_disk: Path, debug_log: pytest.LogCaptureFixture, content: bytes, logged: str
) -> None:
    on_disk.write_bytes(content)
    snapshot = _valid(take_snapshot(None, {}, [event(1)]))
    assert snapshot.source == "timeline"
    assert "file skipped" in debug_log.text
    assert logged in debug_log.text


def test_snapshot_does_not_change_the_live_copy(
    manager: CommManager, channel: SnapshotChannel
) -> None:
    channel.handle_message(notebook_message(make_notebook("a")))
    latest = channel.latest()
    assert latest is not None
    kept = copy.deepcopy(latest[0])
    take_snapshot(channel, {}, [])
    assert latest[0] == kept


# -- in a real kernel -----------------------------------------------------------------


@pytest.mark.slow
def test_in_a_real_kernel(tmp_path: Path) -> None:
    """Kernel id, sessions API after a rename, and the comm protocol, end to end."""
    from jupyter_client.manager import KernelManager

    runtime, root = tmp_path / "runtime", tmp_path / "root"
    runtime.mkdir()
    root.mkdir()
    nbformat.write(nbformat.from_dict(make_notebook("old")), root / "old.ipynb")
    nbformat.write(nbformat.from_dict(make_notebook("renamed")), root / "new.ipynb")
    kid = str(uuid.uuid4())
    sessions = json.dumps([{"path": "new.ipynb", "kernel": {"id": kid}}]).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.headers.get("Authorization") == "token t0k"
            self.send_response(200 if ok else 403)
            self.end_headers()
            self.wfile.write(sessions if ok else b"")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True).start()
    info = {"url": f"http://127.0.0.1:{httpd.server_address[1]}/", "token": "t0k"}
    (runtime / "jpserver-1.json").write_text(json.dumps({**info, "root_dir": str(root)}))

    km = KernelManager(kernel_name="python3", connection_file=str(runtime / f"kernel-{kid}.json"))
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)}
    env["JPY_SESSION_NAME"] = str(root / "old.ipynb")  # stale: the notebook was renamed
    km.start_kernel(env=env, cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)

        out, _ = execute(
            kc,
            "from nbtrack.notebook._comm import SnapshotChannel\n"
            "from nbtrack.notebook._session import kernel_id, find_notebook_path\n"
            "from nbtrack.notebook._snapshot import take_snapshot\n"
            "ch = SnapshotChannel()\n"
            "print(ch.register(get_ipython().kernel), kernel_id())\n"
            "print(find_notebook_path(globals()))\n"
            "print(take_snapshot(ch, globals(), []).source)\n",
        )
        lines = out.splitlines()
        assert lines[0] == f"True {kid}", out
        assert lines[1] == f"({(root / 'new.ipynb')!r}, 'sessions-api')", out
        assert lines[2] == "file", out

        comm_id = kernel_opens(kc, HELLO)
        kernel_sends(kc, comm_id, notebook_message(make_notebook("live in lab"), path="new.ipynb"))

        out, msgs = execute(
            kc,
            "snap = take_snapshot(ch, globals(), [])\n"
            "print(snap.source, snap.notebook.cells[0].source, ch.frontend, sep='|')\n"
            "print(ch.request())\n",
        )
        assert out.splitlines() == ["live|live in lab|jupyterlab-nbtrack 0.1.0", "True"], out
        assert comm_data(msgs, comm_id) == [{"type": "request", "protocol": 1}]

        out, msgs = execute(kc, "ch.unregister(); print(ch.connected)")
        assert out.strip() == "False", out
        assert [m["content"]["comm_id"] for m in msgs if m["msg_type"] == "comm_close"] == [comm_id]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        httpd.shutdown()
        httpd.server_close()
