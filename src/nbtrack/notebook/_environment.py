"""What a run ran on: Python, platform, packages, git state, GPUs.

Captured at run start without spawning pip: distributions come from
``importlib.metadata``; git state is read with ``git`` only when the notebook
sits in a repository (one short subprocess each for commit, branch and diff,
skipped when git is missing). GPU names come from NVML when ``pynvml`` is
importable. Every probe that fails is logged at debug level and leaves its
field empty: capture never breaks a run.
"""

from __future__ import annotations

import logging
import platform
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_DIFF_BYTES = 200_000
GIT_TIMEOUT_S = 5.0


def installed_distributions() -> dict[str, str]:
    """``{name: version}`` of every installed distribution, sorted by name."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(name, dist.version)
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


def _git(directory: Path, *args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603 (git from PATH, constant arguments)
            [git, *args],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("git %s failed in %s: %s", args, directory, exc)
        return None
    if result.returncode != 0:
        log.debug("git %s in %s: %s", args, directory, result.stderr.strip())
        return None
    return result.stdout


def git_state(directory: Path) -> dict[str, Any]:
    """Commit, branch, dirtiness and diff of the repository holding ``directory``.

    Empty when ``directory`` is not inside a git repository.
    """
    if not any((d / ".git").exists() for d in (directory, *directory.parents)):
        return {}
    commit = _git(directory, "rev-parse", "HEAD")
    if commit is None:
        return {}
    branch = _git(directory, "rev-parse", "--abbrev-ref", "HEAD")
    diff = _git(directory, "diff", "HEAD") or ""
    status = _git(directory, "status", "--porcelain") or ""
    root = _git(directory, "rev-parse", "--show-toplevel")
    if len(diff) > MAX_DIFF_BYTES:
        diff = diff[:MAX_DIFF_BYTES] + "\n... (diff truncated)\n"
    return {
        "commit": commit.strip(),
        "branch": (branch or "").strip(),
        "dirty": bool(status.strip()),
        "diff": diff,
        "root": (root or "").strip(),
    }


def gpu_names() -> list[str]:
    """Names of NVIDIA GPUs via NVML (``pynvml``); empty when unavailable."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
        try:
            names = []
            for index in range(pynvml.nvmlDeviceGetCount()):
                name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(index))
                names.append(name.decode() if isinstance(name, bytes) else str(name))
            return names
        finally:
            pynvml.nvmlShutdown()
    except Exception as exc:  # NVML raises its own error types; no GPU is not a failure
        log.debug("NVML query failed: %s", exc)
        return []


def capture(notebook_path: Path | None) -> dict[str, Any]:
    """The environment record stored as ``environment.json`` for a run."""
    directory = (notebook_path.parent if notebook_path else Path.cwd()).resolve()
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": platform.platform(),
        "machine": platform.machine(),
        "hostname": socket.gethostname(),
        "notebook_path": str(notebook_path) if notebook_path else None,
        "git": git_state(directory),
        "gpus": gpu_names(),
        "packages": installed_distributions(),
    }


def summary_tags(env: dict[str, Any]) -> dict[str, str]:
    """The headline facts of an environment record, as run tags."""
    tags = {
        "nbtrack.python": env["python"]["version"],
        "nbtrack.platform": env["platform"],
        "nbtrack.host": env["hostname"],
    }
    git = env.get("git") or {}
    if git:
        tags["mlflow.source.git.commit"] = git["commit"]  # MLflow's tag name
        tags["nbtrack.git.branch"] = git["branch"]
        tags["nbtrack.git.dirty"] = str(git["dirty"]).lower()
    if env.get("gpus"):
        tags["nbtrack.gpus"] = ", ".join(env["gpus"])
    return tags
