"""nbtrack's IPython extension: ``%load_ext nbtrack``.

Registers the ``%track`` magics, the cell hooks of :class:`Tracker`, and the
comm target over which the JupyterLab extension sends the live notebook.
``%unload_ext nbtrack`` removes every one of them. Loading imports no pandas,
Altair or widgets.
"""

from __future__ import annotations

import logging
from typing import Any

from nbtrack.notebook._tracker import Tracker

__all__ = ["Tracker", "load_ipython_extension", "unload_ipython_extension"]

log = logging.getLogger("nbtrack.notebook")

_loaded: dict[int, tuple[Tracker, Any]] = {}


def load_ipython_extension(shell: Any) -> None:
    """Called by ``%load_ext nbtrack``."""
    from nbtrack.notebook._comm import SnapshotChannel
    from nbtrack.notebook._magics import TrackMagics

    if id(shell) in _loaded:
        return
    tracker = Tracker(shell)
    shell.configurables.append(tracker)
    tracker.register()
    channel = SnapshotChannel()
    if channel.register(getattr(shell, "kernel", None)):
        tracker.channel = channel
    magics = TrackMagics(shell, tracker)
    shell.register_magics(magics)
    _loaded[id(shell)] = (tracker, magics)


def unload_ipython_extension(shell: Any) -> None:
    """Called by ``%unload_ext nbtrack``: removes every hook, magic and comm target."""
    entry = _loaded.pop(id(shell), None)
    if entry is None:
        return
    tracker, magics = entry
    tracker.unregister()
    if tracker.channel is not None:
        tracker.channel.unregister()
        tracker.channel = None
    for kind in ("line", "cell"):
        registered = shell.magics_manager.magics[kind]
        if registered.get("track") == getattr(magics, "track", None):
            del registered["track"]
    shell.magics_manager.registry.pop(type(magics).__name__, None)
    # Magics.__init__ appended the magics to shell.configurables, as we did the tracker.
    for configurable in (tracker, magics):
        if configurable in shell.configurables:
            shell.configurables.remove(configurable)
