"""Environment capture at run start, against real git repositories and installed packages."""

from __future__ import annotations

import json
import logging
import platform
import socket
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path

import pytest

from nbtrack.notebook import _environment
from nbtrack.notebook._environment import (
    capture,
    git_state,
    gpu_names,
    installed_distributions,
    summary_tags,
)

GIT_IDENTITY = ("-c", "user.name=nbtrack tests", "-c", "user.email=tests@example.invalid")


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *GIT_IDENTITY, *args], cwd=repo, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository on branch ``experiments`` with one commit."""
    root = tmp_path / "project"
    root.mkdir()
    _git(root, "init", "-q", "-b", "experiments")
    (root / "train.py").write_text("lr = 0.1\n", encoding="utf-8")
    (root / "notebooks").mkdir()
    (root / "notebooks" / "analysis.ipynb").write_text("{}", encoding="utf-8")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "first")
    return root


def _inside_a_repository(path: Path) -> bool:
    return any((d / ".git").exists() for d in (path, *path.parents))


# -- git -----------------------------------------------------------------------------------


def test_clean_repository(repo: Path) -> None:
    state = git_state(repo)
    assert state == {
        "commit": _git(repo, "rev-parse", "HEAD"),
        "branch": "experiments",
        "dirty": False,
        "diff": "",
        "root": str(repo.resolve()),
    }
    assert len(state["commit"]) == 40


def test_modified_file_makes_it_dirty_with_its_diff(repo: Path) -> None:
    (repo / "train.py").write_text("lr = 0.2\n", encoding="utf-8")
    state = git_state(repo / "notebooks")  # any directory inside the repository
    assert state["dirty"] is True
    assert "train.py" in state["diff"]
    assert "-lr = 0.1" in state["diff"]
    assert "+lr = 0.2" in state["diff"]
    assert state["branch"] == "experiments"
    assert state["root"] == str(repo.resolve())


def test_staged_change_is_in_the_diff(repo: Path) -> None:
    (repo / "train.py").write_text("lr = 0.3\n", encoding="utf-8")
    _git(repo, "add", "train.py")
    state = git_state(repo)
    assert state["dirty"] is True
    assert "+lr = 0.3" in state["diff"]  # diff against HEAD, not the index


def test_untracked_file_is_dirty_without_a_diff(repo: Path) -> None:
    (repo / "scratch.txt").write_text("notes\n", encoding="utf-8")
    state = git_state(repo)
    assert state["dirty"] is True
    assert state["diff"] == ""


def test_other_branch_and_new_commit(repo: Path) -> None:
    _git(repo, "checkout", "-q", "-b", "feature/lr-sweep")
    (repo / "train.py").write_text("lr = 0.01\n", encoding="utf-8")
    _git(repo, "commit", "-q", "-am", "smaller lr")
    state = git_state(repo)
    assert state["branch"] == "feature/lr-sweep"
    assert state["commit"] == _git(repo, "rev-parse", "HEAD")
    assert state["dirty"] is False


def test_long_diff_is_truncated(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_environment, "MAX_DIFF_BYTES", 100)
    (repo / "train.py").write_text("".join(f"line {i}\n" for i in range(200)), encoding="utf-8")
    diff = git_state(repo)["diff"]
    assert diff.endswith("\n... (diff truncated)\n")
    assert len(diff) == 100 + len("\n... (diff truncated)\n")


def test_repository_without_commits(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    assert git_state(tmp_path) == {}


def test_outside_a_repository(tmp_path: Path) -> None:
    if _inside_a_repository(tmp_path):
        pytest.skip("the temporary directory is inside a git repository")
    assert git_state(tmp_path) == {}
    assert capture(None)["git"] == {}  # the working directory is tmp_path


def test_git_not_installed(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    assert git_state(repo) == {}


# -- capture -------------------------------------------------------------------------------


def test_capture_for_a_notebook_in_a_repository(repo: Path) -> None:
    notebook = repo / "notebooks" / "analysis.ipynb"
    (repo / "train.py").write_text("lr = 0.5\n", encoding="utf-8")
    env = capture(notebook)
    assert env["python"] == {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }
    assert env["platform"] == platform.platform()
    assert env["machine"] == platform.machine()
    assert env["hostname"] == socket.gethostname()
    assert env["notebook_path"] == str(notebook)
    assert env["git"]["commit"] == _git(repo, "rev-parse", "HEAD")
    assert env["git"]["dirty"] is True
    assert "+lr = 0.5" in env["git"]["diff"]
    assert isinstance(env["gpus"], list)
    assert env["packages"]["nbtrack"] == metadata.version("nbtrack")
    assert json.loads(json.dumps(env)) == env  # stored as environment.json as it is


def test_capture_without_a_notebook_uses_the_working_directory(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "notebooks")
    env = capture(None)
    assert env["notebook_path"] is None
    assert env["git"]["root"] == str(repo.resolve())


def test_installed_distributions() -> None:
    packages = installed_distributions()
    assert packages["nbtrack"] == metadata.version("nbtrack")
    assert packages["SQLAlchemy"] == metadata.version("sqlalchemy")
    assert "pytest" in packages
    names = list(packages)
    assert names == sorted(names, key=str.lower)
    assert all(isinstance(v, str) and v for v in packages.values())


def test_gpu_names_without_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails as when not installed
    assert gpu_names() == []


def test_gpu_names_when_nvml_fails(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class NVMLError(Exception):
        pass

    def init() -> None:
        raise NVMLError("NVML Shared Library Not Found")

    fake = types.ModuleType("pynvml")
    fake.nvmlInit = init  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    with caplog.at_level(logging.DEBUG, logger=_environment.__name__):
        assert gpu_names() == []
    assert "NVML query failed: NVML Shared Library Not Found" in caplog.text


# -- summary tags --------------------------------------------------------------------------


def test_summary_tags_with_git_and_gpus() -> None:
    env = {
        "python": {"version": "3.11.7"},
        "platform": "Linux-6.1-x86_64",
        "hostname": "box",
        "git": {"commit": "a" * 40, "branch": "main", "dirty": True, "diff": "..."},
        "gpus": ["NVIDIA H100", "NVIDIA H100"],
    }
    assert summary_tags(env) == {
        "nbtrack.python": "3.11.7",
        "nbtrack.platform": "Linux-6.1-x86_64",
        "nbtrack.host": "box",
        "mlflow.source.git.commit": "a" * 40,
        "nbtrack.git.branch": "main",
        "nbtrack.git.dirty": "true",
        "nbtrack.gpus": "NVIDIA H100, NVIDIA H100",
    }


def test_summary_tags_of_a_real_capture(repo: Path) -> None:
    env = capture(repo / "notebooks" / "analysis.ipynb")
    tags = summary_tags(env)
    assert tags["nbtrack.python"] == platform.python_version()
    assert tags["nbtrack.host"] == socket.gethostname()
    assert tags["mlflow.source.git.commit"] == env["git"]["commit"]
    assert tags["nbtrack.git.branch"] == "experiments"
    assert tags["nbtrack.git.dirty"] == "false"
    assert all(isinstance(v, str) for v in tags.values())


def test_summary_tags_without_git_or_gpus(tmp_path: Path) -> None:
    if _inside_a_repository(tmp_path):
        pytest.skip("the temporary directory is inside a git repository")
    tags = summary_tags(capture(None))
    assert set(tags) == {"nbtrack.python", "nbtrack.platform", "nbtrack.host"} | (
        {"nbtrack.gpus"} if gpu_names() else set()
    )
