"""The JupyterLab extension's side of the ``nbtrack.snapshot`` comm, for the kernel tests.

In process, the ``comm`` package's real ``CommManager`` gets the messages a
frontend sends; only the transport (``publish_msg``) is replaced, through the
hooks the package provides for that (ipykernel replaces them too). Against a
real kernel, the messages go over ZMQ with a ``jupyter_client`` client.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import comm
from comm.base_comm import BaseComm, CommManager
from nbformat import v4

from nbtrack.notebook import Tracker
from nbtrack.notebook._comm import PROTOCOL, TARGET, SnapshotChannel

if TYPE_CHECKING:
    import pytest
    from IPython.core.interactiveshell import InteractiveShell
    from jupyter_client.blocking.client import BlockingKernelClient

HELLO = {"type": "hello", "protocol": PROTOCOL, "frontend": "jupyterlab-nbtrack 0.1.0"}


class FrontendComm(BaseComm):
    """A comm whose messages to the frontend are recorded instead of sent over ZMQ."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.published: list[tuple[str, dict[str, Any] | None]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: list[bytes] | None = None,
        **keys: Any,
    ) -> None:
        self.published.append((msg_type, data))

    def runs(self) -> list[dict[str, Any] | None]:
        """The ``run`` field of each ``run`` message sent to this frontend, in order."""
        return [
            data["run"]
            for msg_type, data in self.published
            if msg_type == "comm_msg" and data is not None and data.get("type") == "run"
        ]


def install_comm_manager(monkeypatch: pytest.MonkeyPatch) -> CommManager:
    """A fresh comm manager, installed as the process's one (as ipykernel installs its own)."""
    fresh = CommManager()
    monkeypatch.setattr(comm, "get_comm_manager", lambda: fresh)
    monkeypatch.setattr(comm, "create_comm", FrontendComm)
    return fresh


def tracker_of(shell: InteractiveShell) -> Tracker:
    """The :class:`Tracker` of the nbtrack extension loaded in ``shell``."""
    return next(c for c in shell.configurables if isinstance(c, Tracker))


@contextmanager
def channel_in(shell: InteractiveShell, manager: CommManager) -> Iterator[Tracker]:
    """The loaded extension's tracker with a channel registered with ``manager``.

    In plain IPython the extension registers no channel (there is no kernel);
    this registers one as ``%load_ext`` does in a kernel.
    """
    tracker = tracker_of(shell)
    channel = SnapshotChannel()
    assert channel.register(SimpleNamespace(comm_manager=manager))
    tracker.channel = channel
    try:
        yield tracker
    finally:
        channel.unregister()
        tracker.channel = None


def frontend_opens(manager: CommManager, data: dict[str, Any] | None = None) -> FrontendComm:
    comm_id = uuid.uuid4().hex
    content = {"comm_id": comm_id, "target_name": TARGET, "data": data or {}}
    manager.comm_open(None, None, {"content": content})  # type: ignore[arg-type]
    opened = manager.comms[comm_id]
    assert isinstance(opened, FrontendComm)
    return opened


def frontend_sends(manager: CommManager, opened: BaseComm, data: object) -> None:
    msg = {"content": {"comm_id": opened.comm_id, "data": data}}
    manager.comm_msg(None, None, msg)  # type: ignore[arg-type]


def frontend_closes(manager: CommManager, opened: BaseComm) -> None:
    manager.comm_close(None, None, {"content": {"comm_id": opened.comm_id, "data": {}}})  # type: ignore[arg-type]


def make_notebook(*sources: str, tags: dict[int, list[str]] | None = None) -> dict[str, Any]:
    """A notebook as JupyterLab's ``model.toJSON()`` gives it: plain JSON, v4.5, ids.

    ``tags`` maps a cell's index to its tags.
    """
    cells = [
        v4.new_code_cell(src, id=f"cell-{i}", metadata={"tags": (tags or {})[i]})
        if i in (tags or {})
        else v4.new_code_cell(src, id=f"cell-{i}")
        for i, src in enumerate(sources)
    ]
    notebook = v4.new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )
    plain: dict[str, Any] = json.loads(json.dumps(notebook))
    return plain


def notebook_message(notebook: object, path: str | None = "dir/a.ipynb") -> dict[str, Any]:
    return {
        "type": "notebook",
        "protocol": PROTOCOL,
        "path": path,
        "notebook": notebook,
        "sent_at": int(time.time() * 1000),
    }


# -- a real kernel -------------------------------------------------------------------------


def execute(
    kc: BlockingKernelClient, code: str, **options: Any
) -> tuple[str, list[dict[str, Any]]]:
    """Run ``code``; its stdout and tracebacks, and every IOPub message it caused."""
    out: list[str] = []
    msgs: list[dict[str, Any]] = []

    def hook(msg: dict[str, Any]) -> None:
        msgs.append(msg)
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    kc.execute_interactive(code, timeout=60, output_hook=hook, **options)
    return "".join(out), msgs


def kernel_opens(kc: BlockingKernelClient, data: dict[str, Any]) -> str:
    """Open a comm to :data:`TARGET` as the JupyterLab extension does; its id."""
    comm_id = uuid.uuid4().hex
    content = {"comm_id": comm_id, "target_name": TARGET, "data": data}
    kc.shell_channel.send(kc.session.msg("comm_open", content))
    return comm_id


def kernel_sends(kc: BlockingKernelClient, comm_id: str, data: dict[str, Any]) -> None:
    kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data}))


def comm_data(msgs: list[dict[str, Any]], comm_id: str) -> list[dict[str, Any]]:
    """The ``data`` of the ``comm_msg`` messages on ``comm_id`` among ``msgs``."""
    return [
        m["content"]["data"]
        for m in msgs
        if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
    ]


def next_comm_data(kc: BlockingKernelClient, comm_id: str, timeout: float = 60) -> dict[str, Any]:
    """Wait for the next ``comm_msg`` on ``comm_id`` (IOPub, from whatever caused it)."""
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        found = comm_data([msg], comm_id)
        if found:
            return found[0]
