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
current.

Kernel to frontend, the active run of this kernel (added in protocol 1; a
frontend that does not know ``type`` "run" ignores it)::

    {"type": "run", "protocol": 1,
     "run": null                            # no run is active
          | {"run_id": "3f2a...",           # the innermost active run
             "run_name": "baseline",
             "experiment_id": "1",
             "experiment_name": "mnist" | null,   # null if it could not be read
             "start_time": 1718000000000,         # milliseconds since the epoch
             "tracking_uri": "sqlite:////home/me/proj/.nbtrack/nbtrack.db"}}

sent to every open comm right after a ``hello`` arrives (in the open message
or later), when a run starts (at once, also in the middle of a cell), and when
a run ends: then after the cell that ended it finishes (the end is written
to the store by then, so the frontend reads the run as ended), or at once
when no cell is running. Two identical run messages in a row are sent once,
except after a ``hello``. The frontend may read the run from the server
extension's REST API (``GET runs/<run_id>``) for its metrics. Sending never
raises into the user's cell: a failed send is logged at warning level.

When a run starts and the frontend has sent a notebook, the top-level
assignments of its cells tagged ``parameters`` (papermill's convention) are
logged as params of the run (see :func:`nbtrack.notebook._params_cell.notebook_params`).

The kernel closes its comms with ``comm_close`` on ``%unload_ext``; the
frontend closes its comm when the panel closes.
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

    from nbtrack.fluent import ActiveRun

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
        self._last_run: dict[str, Any] | None = None  # the last "run" message sent
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
            self._last_run = None
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
        from nbtrack.notebook._notebook_json import InvalidNotebookError, parse_notebook

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
            self.send_run(force=True)
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

    def send_run(self, *, force: bool = False) -> None:
        """Send the ``run`` message (this kernel's active run now) to every open comm.

        Skipped when it equals the last one sent, unless ``force``. Never
        raises: a comm that fails to send is logged at warning level.
        """
        from nbtrack import fluent

        message = {"type": "run", "protocol": PROTOCOL, "run": run_payload(fluent.active_run())}
        with self._lock:
            if message == self._last_run and not force:
                return
            self._last_run = message
            comms = list(self._comms.values())
        for channel_comm in comms:
            try:
                channel_comm.send(message)
            except Exception as exc:  # a closed socket, a comm torn down meanwhile
                logger.warning("nbtrack comm: could not tell the frontend the active run: %r", exc)

    @property
    def connected(self) -> bool:
        """Whether a frontend has a comm open."""
        with self._lock:
            return bool(self._comms)


def run_payload(run: ActiveRun | None) -> dict[str, Any] | None:
    """The ``run`` field of the ``run`` message for ``run`` (None: no active run)."""
    if run is None:
        return None
    info = run.info
    try:
        experiment_name: str | None = run.client.get_experiment(info.experiment_id).name
    except Exception as exc:  # a store that cannot be read now must not stop the message
        logger.warning("nbtrack comm: could not read experiment %s: %r", info.experiment_id, exc)
        experiment_name = None
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "experiment_name": experiment_name,
        "start_time": info.start_time,
        "tracking_uri": run.client.tracking_uri,
    }
