"""The live-notebook channel: the JupyterLab extension sends the notebook to the kernel.

Protocol (version 1), over a Jupyter comm. Every message is a JSON object
carried in the comm message's ``data``; ``protocol`` is the integer 1.

Opening. The kernel registers the comm target ``"nbtrack.snapshot"``
(:data:`TARGET`) when ``%load_ext nbtrack`` runs. The frontend opens a comm to
it for each notebook panel whose kernel it is (after a kernel restart, and
after ``%load_ext`` when the first open failed: opening a target that is not
registered yet is answered by a ``comm_close``; retry on the next kernel
status change). The open message's ``data`` is the greeting::

    {"type": "hello", "protocol": 1, "frontend": "jupyterlab-nbtrack 0.1.0"}

Frontend to kernel::

    {"type": "notebook", "protocol": 1,
     "path": "dir/name.ipynb" | null,      # the server-relative path, null if untitled
     "notebook": {...},                     # the whole nbformat v4 notebook (model.toJSON()),
                                            # unsaved edits and outputs included
     "sent_at": 1718000000000}              # Date.now(), milliseconds

sent right after the hello, on every change of the notebook (debounced, e.g.
one second after the last change), and when asked. Cells must carry ids
(nbformat >= 4.5) unique within the notebook, and the notebook must pass
nbformat's schema; anything else is logged at warning level and ignored, as
is a message of an unknown ``type`` or another ``protocol``.

Kernel to frontend::

    {"type": "request", "protocol": 1}

asks for a ``notebook`` message now. The answer is asynchronous: the kernel
reads comm messages on its shell channel only between cells, so a request
sent from a running cell (``%track end`` in the last cell, say) is answered
only after that cell ends, and messages the frontend sends meanwhile queue up
too. Hence :func:`~nbtrack.notebook._snapshot.take_snapshot` uses the latest
copy already received, and a copy from a still-open frontend counts as
current. The kernel closes its comms with ``comm_close`` on ``%unload_ext``;
the frontend closes its comm when the panel closes.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from comm.base_comm import BaseComm, CommManager
    from nbformat import NotebookNode

logger = logging.getLogger(__name__)

#: The comm target name the frontend opens.
TARGET = "nbtrack.snapshot"
#: The version of the message format above; both sides must speak the same.
PROTOCOL = 1


class SnapshotChannel:
    """The kernel side of the protocol: keeps the latest valid notebook the frontend sent.

    Comm messages are handled between cells on the shell thread; with
    ipykernel 7's subshells they may be handled on another thread while a cell
    runs, so the state is guarded by a lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._manager: CommManager | None = None
        self._comms: dict[str, BaseComm] = {}
        self._latest: tuple[NotebookNode, str | None, float] | None = None
        self.frontend: str | None = None  # from the last hello, for %track status

    # -- registration -------------------------------------------------------------

    def register(self, kernel: object | None) -> bool:
        """Register :data:`TARGET` with ``kernel``'s comm manager; False outside a kernel.

        ``kernel`` is the shell's ``kernel`` attribute (``get_ipython().kernel``),
        None in plain IPython, where no frontend could connect.
        """
        if kernel is None:
            logger.debug("comm: no kernel, live snapshots are off")
            return False
        manager = getattr(kernel, "comm_manager", None)
        if manager is None:  # old ipykernels: the comm package's manager is the kernel's
            import comm

            manager = comm.get_comm_manager()
        manager.register_target(TARGET, self._on_open)
        self._manager = manager
        return True

    def unregister(self) -> None:
        """Remove the target and close the open comms (the frontend sees ``comm_close``)."""
        manager, self._manager = self._manager, None
        if manager is not None:
            try:
                manager.unregister_target(TARGET, self._on_open)
            except KeyError:
                logger.debug("comm: target %s was already unregistered", TARGET)
        with self._lock:
            comms, self._comms = list(self._comms.values()), {}
            self._latest = None
        for channel_comm in comms:
            try:
                channel_comm.close()
            except KeyError:  # the comm package's manager did not know it
                logger.debug("comm: %s was not registered with the comm manager", channel_comm)

    # -- comm callbacks -----------------------------------------------------------

    def _on_open(self, channel_comm: BaseComm, msg: dict[str, Any]) -> None:
        with self._lock:
            self._comms[channel_comm.comm_id] = channel_comm
        channel_comm.on_msg(self._on_msg)
        channel_comm.on_close(functools.partial(self._on_close, channel_comm.comm_id))
        data = msg.get("content", {}).get("data")
        if data:
            self.handle_message(data)

    def _on_msg(self, msg: dict[str, Any]) -> None:
        self.handle_message(msg.get("content", {}).get("data"))

    def _on_close(self, comm_id: str, _msg: dict[str, Any]) -> None:
        with self._lock:
            self._comms.pop(comm_id, None)
        logger.debug("comm: frontend closed comm %s", comm_id)

    # -- messages -----------------------------------------------------------------

    def handle_message(self, data: object) -> None:
        """Act on one message from the frontend; an invalid one is logged (warning) and ignored."""
        from nbtrack.notebook._snapshot import InvalidNotebookError, parse_notebook

        if not isinstance(data, dict):
            logger.warning("nbtrack comm: ignoring a message that is not an object")
            return
        kind, protocol = data.get("type"), data.get("protocol")
        if kind not in ("hello", "notebook"):
            logger.warning("nbtrack comm: ignoring a message of unknown type %r", kind)
            return
        if protocol != PROTOCOL or isinstance(protocol, bool):
            logger.warning(
                "nbtrack comm: ignoring a %s message of protocol %r (this kernel speaks %d);"
                " update nbtrack and its JupyterLab extension together",
                kind,
                protocol,
                PROTOCOL,
            )
            return
        if kind == "hello":
            frontend = data.get("frontend")
            self.frontend = frontend if isinstance(frontend, str) else None
            logger.debug("comm: hello from %s", self.frontend)
            return
        path = data.get("path")
        if path is not None and not isinstance(path, str):
            logger.warning("nbtrack comm: ignoring a notebook whose path is %r", path)
            return
        try:
            notebook = parse_notebook(data.get("notebook"))
        except InvalidNotebookError as exc:
            logger.warning("nbtrack comm: ignoring an invalid notebook: %s", exc)
            return
        with self._lock:
            self._latest = (notebook, path, time.time())

    def latest(self) -> tuple[NotebookNode, str | None, float] | None:
        """The latest valid notebook, its path and when it arrived (``time.time()``).

        The notebook is the channel's own copy: do not modify it.
        """
        with self._lock:
            return self._latest

    def request(self) -> bool:
        """Ask the open frontends for the notebook now; False if none is connected.

        The answer arrives after the running cell ends (see the module docstring).
        """
        with self._lock:
            comms = list(self._comms.values())
        for channel_comm in comms:
            channel_comm.send({"type": "request", "protocol": PROTOCOL})
        return bool(comms)

    @property
    def connected(self) -> bool:
        """Whether a frontend has a comm open."""
        with self._lock:
            return bool(self._comms)
