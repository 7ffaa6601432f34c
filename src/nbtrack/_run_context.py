"""MLflow's system tags for a new run: who started it, from what source, at which commit.

Computed once per ``start_run`` (never on the logging path): the user, the
script or notebook (``mlflow.source.name`` / ``mlflow.source.type``) and, when
the source is in a git work tree, its commit read from ``.git`` directly (no
subprocess, no GitPython).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from nbtrack.client import current_user
from nbtrack.utils import mlflow_tags

log = logging.getLogger(__name__)


def default_tags() -> dict[str, str]:
    """``mlflow.user``, ``mlflow.source.name``, ``mlflow.source.type`` and the git commit."""
    in_kernel = _in_ipython()
    source = os.environ.get("JPY_SESSION_NAME", "") if in_kernel else _script()
    tags = {
        mlflow_tags.MLFLOW_USER: current_user(),
        mlflow_tags.MLFLOW_SOURCE_NAME: source,
        mlflow_tags.MLFLOW_SOURCE_TYPE: "NOTEBOOK" if in_kernel else "LOCAL",
    }
    start = Path(source).parent if source and not in_kernel else Path.cwd()
    commit = git_commit(start)
    if commit:
        tags[mlflow_tags.MLFLOW_GIT_COMMIT] = commit
    return {k: v for k, v in tags.items() if v}


def _in_ipython() -> bool:
    """Whether an IPython shell (a notebook's kernel, or IPython itself) runs this process.

    Checked through ``sys.modules`` (nothing is imported): a script that merely imported
    ipykernel or jupyter_client (a headless runner, a server) is not a notebook.
    """
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def _script() -> str:
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if not argv0 or argv0 == "-c":
        return "<console>" if argv0 != "-c" else "-c"
    return str(Path(argv0).resolve())


def git_commit(start: Path) -> str | None:
    """The commit checked out in the git work tree containing ``start``, if any."""
    try:
        for folder in (start.resolve(), *start.resolve().parents):
            git = folder / ".git"
            if git.is_file():  # a worktree or submodule: "gitdir: <path>"
                text = git.read_text().strip()
                if not text.startswith("gitdir:"):
                    return None
                git = (folder / text.removeprefix("gitdir:").strip()).resolve()
            if git.is_dir():
                return _head_commit(git)
    except OSError as error:  # unreadable .git: the run just lacks the tag
        log.debug("nbtrack: no git commit for %s: %s", start, error)
    return None


def _head_commit(git: Path) -> str | None:
    head = (git / "HEAD").read_text().strip()
    if not head.startswith("ref:"):
        return head or None
    ref = head.removeprefix("ref:").strip()
    common = git
    if (git / "commondir").is_file():  # a linked worktree keeps refs in the main .git
        common = (git / (git / "commondir").read_text().strip()).resolve()
    for root in (git, common):
        loose = root / ref
        if loose.is_file():
            return loose.read_text().strip() or None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text().splitlines():
            sha, _, name = line.partition(" ")
            if name == ref:
                return sha
    return None
