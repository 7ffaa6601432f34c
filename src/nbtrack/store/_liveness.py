"""Is the process that owns a RUNNING run still alive?

A run records the host, pid and a heartbeat that its process's writer
refreshes every 30 s. On this host a dead (or zombie) pid means the run's
process is gone; on another host, or when a live pid has not refreshed the
heartbeat for :data:`STALE_AFTER_MS` (the pid was reused), the run is
considered orphaned too.

"This host" means the same pid namespace, not only the same host name: two
containers can share a name (set by hand, or with host networking) while each
sees only its own pids, and a JupyterLab server would then take a training
container's live run for dead. A process outside the machine's initial pid
namespace records ``name/pidns:<inode>``, and the heartbeat decides for it.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

#: The inode of the machine's initial pid namespace (Linux's ``PROC_PID_INIT_INO``).
INITIAL_PID_NAMESPACE = 0xEFFFFFFC


def host_identity() -> str:
    """The host name, plus the pid namespace when this process is not in the initial one."""
    name = socket.gethostname()
    try:
        namespace = Path("/proc/self/ns/pid").stat().st_ino
    except OSError:
        return name  # no /proc (macOS, Windows): pids are the machine's
    return name if namespace == INITIAL_PID_NAMESPACE else f"{name}/pidns:{namespace}"


HOST = host_identity()
#: Ten missed heartbeats.
STALE_AFTER_MS = 10 * 30_000


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` names a running (not zombie) process on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    stat = Path(f"/proc/{pid}/stat")
    try:
        # Field 3 is the state; "Z" is a zombie: dead, not yet reaped.
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): trust kill(0)


def owner_alive(host: str, pid: int, heartbeat_ms: int, now_ms: int) -> bool:
    """Whether the process that owns a RUNNING run should be trusted to still own it."""
    fresh = now_ms - heartbeat_ms < STALE_AFTER_MS
    if host != HOST:
        return fresh
    if pid == os.getpid():
        return True
    return pid_alive(pid) and fresh


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return time.time_ns() // 1_000_000
