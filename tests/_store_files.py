"""Helpers for tests that prove reading a store changes nothing and works without write access.

``tree_state`` records every file under a directory (size, mtime, sha256), so a
test can compare before and after. ``as_reader`` runs a command so that it
really cannot write: as a normal user, ``chmod`` does it; as root (CI containers)
the command runs without the capabilities that let root ignore file modes
(``capsh --drop=cap_dac_override,cap_dac_read_search``). ``on_read_only_mount``
runs a command in a mount namespace where a directory is a read-only bind
mount (root only).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def tree_state(root: Path) -> dict[str, tuple[int, int, str]]:
    """``{relative path: (size, mtime_ns, sha256)}`` of every file and directory under ``root``."""
    state = {}
    for path in sorted(root.rglob("*")):
        info = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        state[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns, digest)
    return state


@contextmanager
def read_only_tree(root: Path) -> Iterator[None]:
    """``chmod a-w`` everything under ``root`` (and ``root``), restored afterwards."""
    paths = [root, *root.rglob("*")]
    modes = {path: path.stat().st_mode for path in paths}
    for path in reversed(paths):
        path.chmod(stat.S_IMODE(modes[path]) & ~0o222)
    try:
        yield
    finally:
        for path in paths:
            path.chmod(stat.S_IMODE(modes[path]))


def nbtrack_command(*args: str) -> list[str]:
    """The ``nbtrack`` command line run with this interpreter and this checkout's package."""
    return [sys.executable, "-c", "from nbtrack.cli import main; main()", *args]


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment with this checkout first on the path, no store override."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBTRACK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    return {**env, **extra}


def as_reader(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as a process that file modes really apply to (see the module docstring)."""
    if os.geteuid() == 0:
        capsh = shutil.which("capsh")
        if capsh is None:
            pytest.skip("running as root and capsh is missing: root would ignore chmod")
        command = [
            capsh,
            "--drop=cap_dac_override,cap_dac_read_search",
            "--",
            "-c",
            shlex.join(command),
        ]
    return subprocess.run(
        command, cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=120, check=False
    )


def on_read_only_mount(
    directory: Path, command: list[str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` while ``directory`` is a read-only bind mount (skips where impossible)."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        pytest.skip("a read-only bind mount needs root and unshare")
    where = shlex.quote(str(directory))
    script = f"mount --bind -o ro {where} {where} && exec {shlex.join(command)}"
    result = subprocess.run(
        [unshare, "-m", "sh", "-c", script],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if "mount:" in result.stderr and result.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount here: {result.stderr.strip()}")
    return result
