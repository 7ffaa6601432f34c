"""Where the store lives: the default ``.nbtrack/``, the environment, and URI normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest

import nbtrack
from nbtrack import InvalidInputError, TrackingClient
from nbtrack.store import locate


def _uri(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(locate.ENV_TRACKING_URI, raising=False)


@pytest.mark.usefixtures("no_env")
def test_nearest_store_is_found_upward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / ".nbtrack").mkdir(parents=True)
    nested = project / "notebooks" / "deep" / "er"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert locate.find_store_dir() == (project / ".nbtrack").resolve()
    assert nbtrack.get_tracking_uri() == _uri(project / ".nbtrack" / "nbtrack.db")
    with nbtrack.start_run() as run:
        nbtrack.log_metric("m", 1.0)
    assert (project / ".nbtrack" / "nbtrack.db").is_file()
    assert not (nested / ".nbtrack").exists()
    assert TrackingClient().get_run(run.info.run_id).data.metrics == {"m": 1.0}


@pytest.mark.usefixtures("no_env")
def test_the_nearest_of_several_stores_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outer = tmp_path / "outer"
    inner = outer / "inner"
    (outer / ".nbtrack").mkdir(parents=True)
    (inner / ".nbtrack").mkdir(parents=True)
    (inner / "sub").mkdir()
    monkeypatch.chdir(inner / "sub")
    assert locate.find_store_dir() == (inner / ".nbtrack").resolve()
    assert locate.find_store_dir(outer) == (outer / ".nbtrack").resolve()


@pytest.mark.usefixtures("no_env")
def test_a_file_named_like_the_store_is_not_a_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / ".nbtrack").write_text("not a directory")
    monkeypatch.chdir(work / "sub")
    assert locate.find_store_dir() == (work / "sub" / ".nbtrack").resolve()


@pytest.mark.usefixtures("no_env")
def test_store_is_created_in_cwd_when_there_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    monkeypatch.chdir(fresh)
    assert nbtrack.get_tracking_uri() == _uri(fresh / ".nbtrack" / "nbtrack.db")
    assert not (fresh / ".nbtrack").exists()  # nothing is created until the store opens
    with nbtrack.start_run():
        nbtrack.log_param("p", 1)
    assert (fresh / ".nbtrack" / "nbtrack.db").is_file()
    assert (fresh / ".nbtrack").is_dir()


@pytest.mark.usefixtures("no_env")
def test_a_new_store_goes_to_the_git_root_from_any_subdirectory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    nested = repo / "lab" / "notebooks"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert locate.find_store_dir() == (repo / ".nbtrack").resolve()
    with nbtrack.start_run():
        nbtrack.log_param("p", 1)
    assert (repo / ".nbtrack" / "nbtrack.db").is_file()
    assert not (nested / ".nbtrack").exists()
    # A git worktree has a .git file, not a directory: the same marker.
    worktree = tmp_path / "worktree"
    (worktree / "sub").mkdir(parents=True)
    (worktree / ".git").write_text("gitdir: ../repo/.git/worktrees/w\n")
    assert locate.find_store_dir(worktree / "sub") == (worktree / ".nbtrack").resolve()


@pytest.mark.usefixtures("no_env")
def test_outside_git_a_new_store_goes_to_the_jupyter_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "lab"
    nested = root / "notebooks" / "deep"
    nested.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv(locate.ENV_JUPYTER_ROOT, str(root))
    assert locate.find_store_dir(nested) == (root / ".nbtrack").resolve()
    assert locate.find_store_dir(root) == (root / ".nbtrack").resolve()
    # Outside the server's root, the working directory as before.
    assert locate.find_store_dir(elsewhere) == (elsewhere / ".nbtrack").resolve()
    # An explicit root (the server extension's) wins over the environment.
    assert (
        locate.find_store_dir(nested, jupyter_root=root / "notebooks")
        == (root / "notebooks" / ".nbtrack").resolve()
    )
    # An existing store below the root is still the nearest one.
    (root / "notebooks" / ".nbtrack").mkdir()
    assert locate.find_store_dir(nested) == (root / "notebooks" / ".nbtrack").resolve()


def test_environment_overrides_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "project" / ".nbtrack").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "project")
    monkeypatch.setenv(locate.ENV_TRACKING_URI, str(tmp_path / "elsewhere"))
    assert nbtrack.get_tracking_uri() == _uri(tmp_path / "elsewhere" / "nbtrack.db")
    monkeypatch.setenv(locate.ENV_TRACKING_URI, f"sqlite:///{tmp_path}/env.db")
    assert nbtrack.get_tracking_uri() == _uri(tmp_path / "env.db")
    with nbtrack.start_run():
        nbtrack.log_param("p", 1)
    assert (tmp_path / "env.db").is_file()
    assert not (tmp_path / "project" / ".nbtrack" / "nbtrack.db").exists()


def test_set_tracking_uri_overrides_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(locate.ENV_TRACKING_URI, str(tmp_path / "from-env"))
    nbtrack.set_tracking_uri(f"sqlite:///{tmp_path}/explicit.db")
    assert nbtrack.get_tracking_uri() == _uri(tmp_path / "explicit.db")
    assert TrackingClient().tracking_uri == _uri(tmp_path / "explicit.db")
    nbtrack.set_tracking_uri(None)
    assert nbtrack.get_tracking_uri() == _uri(tmp_path / "from-env" / "nbtrack.db")


def test_set_tracking_uri_is_resolved_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbtrack.set_tracking_uri("relative-store")
    monkeypatch.chdir(tmp_path.parent)
    assert nbtrack.get_tracking_uri() == _uri(tmp_path / "relative-store" / "nbtrack.db")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///rel.db", "rel.db"),
        ("sqlite:///sub/dir/rel.db", "sub/dir/rel.db"),
        ("store-dir", "store-dir/nbtrack.db"),
        ("store-dir/", "store-dir/nbtrack.db"),
        ("plain.db", "plain.db"),
        ("sub/other.db", "sub/other.db"),
        ("  padded  ", "padded/nbtrack.db"),
        ("file:local-dir", "local-dir/nbtrack.db"),
    ],
)
def test_relative_uris_are_normalised_against_cwd(
    tmp_path: Path, given: str, expected: str
) -> None:
    assert locate.normalize_tracking_uri(given) == _uri(tmp_path / expected)


def test_absolute_uris_are_normalised(tmp_path: Path) -> None:
    absolute = tmp_path / "abs"
    assert locate.normalize_tracking_uri(f"sqlite:///{absolute}.db") == _uri(tmp_path / "abs.db")
    assert str(absolute).startswith("/")  # so the URI above had four slashes
    assert locate.normalize_tracking_uri(f"sqlite:///{absolute}/x/../y.db") == _uri(
        tmp_path / "abs" / "y.db"
    )
    assert locate.normalize_tracking_uri(absolute) == _uri(absolute / "nbtrack.db")
    assert locate.normalize_tracking_uri(Path(f"{absolute}.db")) == _uri(tmp_path / "abs.db")
    assert locate.normalize_tracking_uri(f"file://{absolute}") == _uri(absolute / "nbtrack.db")
    normalised = locate.normalize_tracking_uri(absolute)
    assert locate.normalize_tracking_uri(normalised) == normalised  # idempotent


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert locate.normalize_tracking_uri("~/runs") == _uri(
        tmp_path / "home" / "runs" / "nbtrack.db"
    )
    assert locate.normalize_tracking_uri("sqlite:///~/t.db") == _uri(tmp_path / "home" / "t.db")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("http://tracking.example:5000", "scheme 'http' is not supported"),
        ("postgresql+psycopg2://user@host/db", "driver 'psycopg2' is not supported"),
        ("postgresql://user@host", "names no database"),
        ("postgresql://user:secret@host/", "names no database"),
        ("databricks://profile", "scheme 'databricks' is not supported"),
        ("s3://bucket/prefix", "scheme 's3' is not supported"),
        ("sqlite://", "in-memory SQLite is not supported"),
        ("sqlite:///:memory:", "in-memory SQLite is not supported"),
        ("sqlite:relative.db", "malformed SQLite URI"),
        ("sqlite:///", "malformed SQLite URI"),
        ("", "tracking URI is empty"),
        ("   ", "tracking URI is empty"),
    ],
)
def test_unsupported_uris_are_refused(given: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        locate.normalize_tracking_uri(given)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db.example:5432/runs", "postgresql+psycopg://u:p@db.example:5432/runs"),
        ("postgres://u@db/runs", "postgresql+psycopg://u@db/runs"),
        (
            "postgresql+psycopg://u@db/runs?sslmode=require",
            "postgresql+psycopg://u@db/runs?sslmode=require",
        ),
    ],
)
def test_postgresql_uris_go_through_psycopg3(given: str, expected: str) -> None:
    assert locate.normalize_tracking_uri(given) == expected
    assert locate.normalize_tracking_uri(expected) == expected  # idempotent


def test_postgresql_password_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    uri = locate.normalize_tracking_uri("postgresql://me:s3cret@db.example/runs")
    assert "s3cret" not in locate.store_location(uri)
    with pytest.raises(InvalidInputError) as refused:
        locate.normalize_tracking_uri("postgresql://me:s3cret@db.example")
    assert "s3cret" not in str(refused.value)


def test_refused_uri_leaves_the_current_one(tmp_path: Path) -> None:
    before = nbtrack.get_tracking_uri()
    with pytest.raises(InvalidInputError, match="in-memory SQLite is not supported"):
        nbtrack.set_tracking_uri("sqlite:///:memory:")
    with pytest.raises(InvalidInputError, match="scheme 'http'"):
        TrackingClient("http://localhost:5000")
    assert nbtrack.get_tracking_uri() == before


def test_bad_environment_uri_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(locate.ENV_TRACKING_URI, "mysql://db")
    with pytest.raises(InvalidInputError, match="scheme 'mysql' is not supported"):
        nbtrack.get_tracking_uri()


def test_artifact_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = locate.normalize_tracking_uri(tmp_path / "s")
    assert locate.artifact_root_for(uri) == (tmp_path / "s" / "artifacts").resolve()
    monkeypatch.setenv(locate.ENV_ARTIFACT_ROOT, str(tmp_path / "blobs"))
    assert locate.artifact_root_for(uri) == (tmp_path / "blobs").resolve()
    client = TrackingClient(tmp_path / "s")
    run_id = client.create_run("0").info.run_id
    client.log_text(run_id, "x", "x.txt")
    client.flush()
    assert any(p.is_file() for p in (tmp_path / "blobs").rglob("*"))
    assert not (tmp_path / "s" / "artifacts").exists()
    monkeypatch.delenv(locate.ENV_ARTIFACT_ROOT)
    with pytest.raises(InvalidInputError, match=locate.ENV_ARTIFACT_ROOT):
        locate.artifact_root_for("postgresql://h/db")


def test_client_with_an_explicit_uri_uses_its_own_store(tmp_path: Path, store_dir: Path) -> None:
    mine = TrackingClient(tmp_path / "mine")
    default = TrackingClient()
    assert mine.tracking_uri == _uri(tmp_path / "mine" / "nbtrack.db")
    assert default.tracking_uri == _uri(store_dir / "nbtrack.db")
    run_id = mine.create_run("0").info.run_id
    assert [r.info.run_id for r in mine.search_runs("0")] == [run_id]
    assert default.search_runs("0") == []
    assert (tmp_path / "mine" / "nbtrack.db").is_file()
