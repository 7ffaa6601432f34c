"""Reading a store never writes and never creates (issue 11 points 5, 9, 10; issue 13 point 3).

A store opened for reading uses SQLite ``mode=ro`` (or ``immutable=1`` when no
process has it open), changes no byte in the store's directory, creates nothing
where there is no store, and is read even where this process may not write:
another user's store (``chmod``), a read-only mount. Old schemas are reported,
not migrated; files that are not nbtrack's (MLflow's store) are refused before
anything touches them.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import nbtrack
from _store_files import (
    as_reader,
    child_env,
    nbtrack_command,
    on_read_only_mount,
    read_only_tree,
    tree_state,
)
from nbtrack import NotFoundError, StoreError, TrackingClient
from nbtrack.cli import main
from nbtrack.store import close_all
from nbtrack.store.migrations import HEAD_REVISION

FIXTURES = Path(__file__).parent / "fixtures"


def make_store(directory: Path, runs: int = 2) -> list[str]:
    """A store with ``runs`` finished runs (params, a metric history, an artifact), closed."""
    client = TrackingClient(directory)
    exp = client.create_experiment("shared")
    ids = []
    for i in range(runs):
        run_id = client.create_run(exp, run_name=f"run-{i}").info.run_id
        client.log_param(run_id, "lr", 0.1 * (i + 1))
        for step in range(5):
            client.log_metric(run_id, "loss", 1.0 / (step + 1 + i), step=step)
        client.log_text(run_id, f"notes of run {i}", "notes.txt")
        client.set_terminated(run_id)
        ids.append(run_id)
    close_all()
    return ids


def journal_mode_byte(db: Path) -> bytes:
    """Bytes 18-19 of the SQLite header: 2 2 for WAL, 1 1 for a rollback journal."""
    return db.read_bytes()[18:20]


# -- 11.5: reading a store changes nothing ----------------------------------------------


def test_reading_changes_no_byte_of_the_store(tmp_path: Path) -> None:
    store = tmp_path / "team-store"
    ids = make_store(store)
    before = tree_state(store)
    client = TrackingClient(store, readonly=True)
    runs = client.search_runs(None, "params.lr = '0.1'")
    assert [r.info.run_id for r in runs] == [ids[0]]
    assert [m.value for m in client.get_metric_history(ids[1], "loss")][:2] == [0.5, 1 / 3]
    assert [a.path for a in client.list_artifacts(ids[0])] == ["notes.txt"]
    out = client.download_artifacts(ids[0], "notes.txt", tmp_path / "out")
    assert Path(out).read_text() == "notes of run 0"
    assert {e.name for e in client.search_experiments()} == {"Default", "shared"}
    # The connections themselves cannot write.
    with client._store.engine.connect() as conn, pytest.raises(Exception, match="readonly"):
        conn.exec_driver_sql("CREATE TABLE intruder (a)")
    # Writing through the client says why it is refused, before touching anything.
    with pytest.raises(StoreError, match="read-only here"):
        client.set_tag(ids[0], "k", "v")
    close_all()
    assert tree_state(store) == before  # same files, same bytes, same mtimes


def test_reading_sees_what_a_live_writer_logged(tmp_path: Path) -> None:
    # With a writer open the WAL holds data not yet in the database file: a
    # read-only reader must read it through SQLite's index, not miss it.
    store = tmp_path / "live"
    writer = TrackingClient(store)
    run_id = writer.create_run("0", run_name="live").info.run_id
    writer.log_metric(run_id, "m", 1.0, step=0)
    writer.flush()
    reader = subprocess.run(
        [sys.executable, "-c", READ_LATEST, str(store), run_id],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.split() == ["live", "1.0"]


READ_LATEST = """
import sys, nbtrack
client = nbtrack.TrackingClient(sys.argv[1], readonly=True)
run = client.get_run(sys.argv[2])
print(run.info.run_name, run.data.metrics["m"])
"""


def test_a_store_this_process_may_not_write_is_read(tmp_path: Path) -> None:
    store = tmp_path / "someone-elses"
    ids = make_store(store)
    with read_only_tree(store):
        before = tree_state(store)
        listed = as_reader(nbtrack_command("--tracking-uri", str(store), "runs", "list"))
        assert listed.returncode == 0, listed.stderr
        assert "run-0" in listed.stdout
        assert "run-1" in listed.stdout
        shown = as_reader(nbtrack_command("--tracking-uri", str(store), "runs", "show", ids[0]))
        assert shown.returncode == 0, shown.stderr
        assert "notes.txt" in shown.stdout
        # The library (what the panels use) reads it too, without being told it is read-only.
        panel = as_reader([sys.executable, "-c", PANEL_READ, str(store)])
        assert panel.returncode == 0, panel.stderr
        assert panel.stdout.split() == ["2", "refused:", "StoreError"]
        # Logging into it fails at once with the reason, not in a background writer.
        demo = as_reader(nbtrack_command("--tracking-uri", str(store), "demo"))
        assert demo.returncode == 1
        assert "is read-only here (this process may not write" in demo.stderr
        assert "Traceback" not in demo.stderr
        assert tree_state(store) == before


PANEL_READ = """
import sys, nbtrack
from nbtrack.ui._runs_table import RunTable
client = nbtrack.TrackingClient(sys.argv[1])
table = RunTable(client=client)
print(len(table.page.runs))
try:
    client.create_experiment("nope")
except nbtrack.StoreError as exc:
    print("refused:", type(exc).__name__)
"""


def test_a_store_on_a_read_only_mount_is_read(tmp_path: Path) -> None:
    store = tmp_path / "mounted"
    make_store(store, runs=3)
    before = tree_state(store)
    listed = on_read_only_mount(
        store, nbtrack_command("--tracking-uri", str(store), "runs", "list")
    )
    assert listed.returncode == 0, listed.stderr
    assert all(f"run-{i}" in listed.stdout for i in range(3))
    assert tree_state(store) == before


HOLD_OPEN = """
import sys, nbtrack
client = nbtrack.TrackingClient(sys.argv[1])
run_id = client.create_run("0", run_name="still-logging").info.run_id
client.log_metric(run_id, "m", 7.0, step=0)
client.flush()
print(run_id, flush=True)
sys.stdin.read()  # keeps the store open (its -wal and -shm) until the test is done
"""


def test_a_live_store_on_a_read_only_mount_is_read_with_its_pending_writes(
    tmp_path: Path,
) -> None:
    store = tmp_path / "live-mounted"
    make_store(store, runs=1)
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_OPEN, str(store)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=child_env(),
        text=True,
    )
    try:
        assert writer.stdout is not None
        run_id = writer.stdout.readline().strip()
        assert Path(f"{store / 'nbtrack.db'}-wal").stat().st_size > 0  # not checkpointed yet
        shown = on_read_only_mount(
            store, nbtrack_command("--tracking-uri", str(store), "runs", "show", run_id)
        )
        assert shown.returncode == 0, shown.stderr
        assert "still-logging" in shown.stdout
        assert "RUNNING" in shown.stdout
    finally:
        writer.communicate("", timeout=60)
    assert writer.returncode == 0


def test_pending_writes_that_cannot_be_read_are_an_error_not_missing_data(
    tmp_path: Path,
) -> None:
    # A -wal file holding data but no usable index (its writer died, and this
    # process may not create the -shm): reading would silently miss that data.
    store = tmp_path / "crashed"
    make_store(store, runs=1)
    db = store / "nbtrack.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("UPDATE runs SET name = 'renamed'")
    conn.commit()
    shutil.copy(db, tmp_path / "db")
    shutil.copy(f"{db}-wal", tmp_path / "wal")
    conn.close()  # checkpoints and removes the WAL: put the crashed state back
    shutil.copy(tmp_path / "db", db)
    shutil.copy(tmp_path / "wal", f"{db}-wal")
    assert not Path(f"{db}-shm").exists()
    with read_only_tree(store):
        listed = as_reader(nbtrack_command("--tracking-uri", str(store), "runs", "list"))
    assert listed.returncode == 1
    assert "another process is writing it" in listed.stderr
    assert "Traceback" not in listed.stderr


# -- 11.9: an old schema is reported, never migrated by reading ---------------------------


def old_store(tmp_path: Path) -> Path:
    store = tmp_path / "old"
    store.mkdir()
    shutil.copy(FIXTURES / "store_rev0001.db", store / "nbtrack.db")
    return store


def revision_of(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])
    finally:
        conn.close()


def test_an_old_schema_is_reported_by_readers_and_upgraded_by_nbtrack_upgrade(
    tmp_path: Path,
) -> None:
    store = old_store(tmp_path)
    before = tree_state(store)
    with pytest.raises(StoreError, match=r"store needs upgrading: run `nbtrack upgrade`"):
        TrackingClient(store, readonly=True).search_runs(None)
    result = CliRunner().invoke(main, ["--tracking-uri", str(store), "runs", "list"])
    assert result.exit_code == 1
    assert "store needs upgrading: run `nbtrack upgrade`" in result.output
    assert tree_state(store) == before  # no migration, no lock file, no WAL switch
    assert revision_of(store / "nbtrack.db") == "0001"

    result = CliRunner().invoke(main, ["--tracking-uri", str(store), "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"from schema 0001 to {HEAD_REVISION}" in result.output
    assert revision_of(store / "nbtrack.db") == HEAD_REVISION
    close_all()
    assert TrackingClient(store, readonly=True).search_runs(None)  # readable now
    again = CliRunner().invoke(main, ["--tracking-uri", str(store), "upgrade"])
    assert "is up to date" in again.output


def test_upgrade_of_a_store_this_process_may_not_write_says_so(tmp_path: Path) -> None:
    store = old_store(tmp_path)
    with read_only_tree(store):
        before = tree_state(store)
        result = as_reader(nbtrack_command("--tracking-uri", str(store), "upgrade"))
        assert result.returncode == 1
        assert f"cannot upgrade the store at {store}: this process may not write" in result.stderr
        assert tree_state(store) == before


def test_upgrade_creates_no_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--tracking-uri", str(tmp_path / "none"), "upgrade"])
    assert result.exit_code == 1
    assert f"no store at {tmp_path / 'none'}" in result.output
    assert not (tmp_path / "none").exists()


# -- 11.10: a file that is not nbtrack's is refused before anything changes ---------------

MLFLOW_LOG = """
import sys, mlflow
mlflow.set_tracking_uri("sqlite:///" + sys.argv[1])
with mlflow.start_run():
    mlflow.log_param("lr", 0.1)
    mlflow.log_metric("loss", 0.5)
"""


@pytest.mark.slow
def test_an_mlflow_store_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    db = tmp_path / "mlruns" / "mlflow.db"
    db.parent.mkdir()
    made = subprocess.run(
        [sys.executable, "-c", MLFLOW_LOG, str(db)],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    before = tree_state(db.parent)
    mode = journal_mode_byte(db)
    for readonly in (False, True):
        with pytest.raises(StoreError, match="is an MLflow tracking store") as raised:
            TrackingClient(db, readonly=readonly).search_runs(None)
        assert "not an nbtrack store" in str(raised.value)
        assert "has not changed it" in str(raised.value)
    for args in (["runs", "list"], ["demo"]):
        result = CliRunner().invoke(main, ["--tracking-uri", str(db), *args])
        assert result.exit_code == 1
        assert "MLflow tracking store" in result.output
    close_all()
    assert journal_mode_byte(db) == mode  # not switched to WAL
    assert tree_state(db.parent) == before  # same bytes, no -wal, -shm or lock file


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"just some text\n", "is not an SQLite database"),
        (None, "the SQLite database of another application (tables: inventory)"),
    ],
)
def test_other_files_are_refused_and_left_as_they_were(
    tmp_path: Path, content: bytes | None, what: str
) -> None:
    db = tmp_path / "data" / "other.db"
    db.parent.mkdir()
    if content is None:
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE inventory (item TEXT)")
        conn.commit()
        conn.close()
    else:
        db.write_bytes(content)
    before = tree_state(db.parent)
    for readonly in (False, True):
        with pytest.raises(StoreError, match=re.escape(what)):
            TrackingClient(db, readonly=readonly).search_experiments()
    close_all()
    assert tree_state(db.parent) == before


# -- 13.3: read commands never create a store ------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "list"],
        ["experiments", "list"],
        ["runs", "show", "abc123"],
        ["models", "list"],
        ["models", "history", "iris"],
        ["gc", "--dry-run"],
        # These write, but only to a store that has the run already.
        ["gc"],
        ["reproduce", "abc123"],
        ["sweep", "--resume", "abc123", "train.ipynb"],
    ],
)
def test_read_commands_in_an_empty_directory_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    monkeypatch.delenv("NBTRACK_TRACKING_URI")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert f"no store at {empty / '.nbtrack'} (create one by logging a run)" in result.output
    assert list(empty.iterdir()) == []


def test_a_tracking_uri_that_does_not_exist_is_an_error_and_stays_absent(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nonexistent" / "dir" / "x"
    result = CliRunner().invoke(main, ["--tracking-uri", str(missing), "runs", "list"])
    assert result.exit_code == 1
    assert f"no store at {missing} (create one by logging a run)" in result.output
    assert not (tmp_path / "nonexistent").exists()
    with pytest.raises(NotFoundError, match="no store at"):
        TrackingClient(missing, readonly=True).search_runs(None)
    assert not (tmp_path / "nonexistent").exists()


def test_no_runs_match_names_the_store(client: nbtrack.TrackingClient, store_dir: Path) -> None:
    client.create_experiment("empty")
    result = CliRunner().invoke(main, ["runs", "list"])
    assert result.exit_code == 0, result.output
    assert f"No runs match. (store: {store_dir.resolve()})" in result.output
    listed = CliRunner().invoke(main, ["experiments", "list"])
    assert f"Store: {store_dir.resolve()}" in listed.output
