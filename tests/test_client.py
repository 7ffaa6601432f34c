"""TrackingClient (MLflow's MlflowClient) against a real SQLite store."""

from __future__ import annotations

import math
import re
import sqlite3
from pathlib import Path

import pytest

from _tag_helpers import user_tags
from nbtrack import (
    InvalidInputError,
    Metric,
    NotFoundError,
    Param,
    RunTag,
    TrackingClient,
    ViewType,
)

UNKNOWN = "0" * 32


@pytest.fixture
def run_id(client: TrackingClient) -> str:
    return client.create_run("0").info.run_id


def _count(store_dir: Path, sql: str, *args: object) -> int:
    with sqlite3.connect(store_dir / "nbtrack.db") as conn:
        return int(conn.execute(sql, args).fetchone()[0])


def _blob_files(store_dir: Path) -> list[Path]:
    root = store_dir / "artifacts"
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"]


# -- runs ------------------------------------------------------------------------------


def test_create_and_get_run(client: TrackingClient) -> None:
    experiment_id = client.create_experiment("exp")
    run = client.create_run(
        experiment_id, start_time=1_700_000_000_000, tags={"team": "vision"}, run_name="r1"
    )
    info = run.info
    assert info.experiment_id == experiment_id
    assert info.run_name == "r1"
    assert info.status == "RUNNING"
    assert info.start_time == 1_700_000_000_000
    assert info.end_time is None
    assert info.lifecycle_stage == "active"
    assert info.artifact_uri == f"runs:/{info.run_id}/"
    assert info.user_id
    assert user_tags(run.data.tags) == {"team": "vision"}
    again = client.get_run(info.run_id)
    assert again.info == info
    assert again.data == run.data


def test_create_run_with_a_parent(client: TrackingClient, run_id: str) -> None:
    child = client.create_run("0", parent_run_id=run_id)
    assert child.info.parent_run_id == run_id
    with pytest.raises(NotFoundError, match="no run with id"):
        client.create_run("0", parent_run_id=UNKNOWN)


def test_set_terminated_and_update_run(client: TrackingClient, run_id: str) -> None:
    client.update_run(run_id, name="renamed")
    assert client.get_run(run_id).info.run_name == "renamed"
    client.set_terminated(run_id, "FAILED", end_time=1_800_000_000_000)
    info = client.get_run(run_id).info
    assert info.status == "FAILED"
    assert info.end_time == 1_800_000_000_000
    client.update_run(run_id, status="RUNNING")
    info = client.get_run(run_id).info
    assert info.status == "RUNNING"
    assert info.end_time is None
    client.update_run(run_id, status="FINISHED", name="final")
    info = client.get_run(run_id).info
    assert info.status == "FINISHED"
    assert info.run_name == "final"
    assert info.end_time is not None
    with pytest.raises(InvalidInputError, match="run name must be a non-empty string"):
        client.update_run(run_id, name="")
    with pytest.raises(InvalidInputError, match="unknown run status"):
        client.update_run(run_id, status="PAUSED")
    assert client.get_run(run_id).info.run_name == "final"


def test_unknown_run_id_is_not_found(client: TrackingClient, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    calls = [
        lambda: client.get_run(UNKNOWN),
        lambda: client.log_metric(UNKNOWN, "m", 1.0),
        lambda: client.log_param(UNKNOWN, "p", 1),
        lambda: client.set_tag(UNKNOWN, "t", 1),
        lambda: client.log_batch(UNKNOWN, metrics=[("m", 1.0, None, None)]),
        lambda: client.set_terminated(UNKNOWN),
        lambda: client.update_run(UNKNOWN, name="x"),
        lambda: client.delete_run(UNKNOWN),
        lambda: client.get_metric_history(UNKNOWN, "m"),
        lambda: client.get_metric_keys(UNKNOWN),
        lambda: client.log_artifact(UNKNOWN, tmp_path / "f.txt"),
        lambda: client.log_text(UNKNOWN, "x", "a.txt"),
        lambda: client.list_artifacts(UNKNOWN),
        lambda: client.read_artifact(UNKNOWN, "a.txt"),
    ]
    for call in calls:
        with pytest.raises(NotFoundError, match=f"no run with id '{UNKNOWN}'"):
            call()
    client.flush()  # nothing bad was queued
    assert _blob_files(client._store.blobs.root.parent) == []  # no blob written for a bad run


def test_delete_and_restore_run(client: TrackingClient, run_id: str) -> None:
    other = client.create_run("0").info.run_id
    client.delete_run(run_id)
    assert [r.info.run_id for r in client.search_runs("0")] == [other]
    deleted = client.search_runs("0", run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run_id]
    client.restore_run(run_id)
    assert {r.info.run_id for r in client.search_runs("0")} == {run_id, other}


# -- logging ---------------------------------------------------------------------------


def test_log_batch_with_metric_objects_and_tuples(client: TrackingClient, run_id: str) -> None:
    client.log_batch(
        run_id,
        metrics=[
            Metric("loss", 0.9, 1_000, 0),
            Metric("loss", 0.7, 2_000, 1),
            ("loss", 0.5, None, None),  # next step: 2
            ("acc", 0.1, 3_000, 5),
        ],
        params=[Param("lr", 0.01), ("depth", 4)],
        tags=[RunTag("team", "vision"), ("stage", 1)],
    )
    run = client.get_run(run_id)
    assert run.data.params == {"lr": "0.01", "depth": "4"}
    assert user_tags(run.data.tags) == {"team": "vision", "stage": "1"}
    assert run.data.metrics == {"loss": 0.5, "acc": 0.1}
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history[:2]] == [(0, 0.9), (1, 0.7)]
    assert [(m.timestamp) for m in history[:2]] == [1_000, 2_000]
    assert history[2].step == 2
    assert history[2].timestamp > 1_600_000_000_000  # None means now
    assert client.get_metric_history(run_id, "acc") == [Metric("acc", 0.1, 3_000, 5)]


@pytest.mark.parametrize(
    ("bad_metric", "message"),
    [
        (("acc", "high", None, 1), "must be a number"),
        (("a*b", 1.0, None, 1), "contains"),
        (("acc", 1.0, None, 1.5), "must be an integer"),
        (("acc", True, None, 1), "got a bool"),
        (("acc", 1.0, "now", 1), "timestamp must be integer"),
    ],
)
def test_log_batch_with_one_bad_metric_stores_nothing(
    client: TrackingClient, run_id: str, bad_metric: tuple[object, ...], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        client.log_batch(
            run_id,
            metrics=[("loss", 0.5, None, 0), bad_metric, ("loss", 0.4, None, 1)],
            params=[("lr", 0.1)],
            tags=[("team", "x")],
        )
    client.flush()
    run = client.get_run(run_id)
    assert run.data.metrics == {}
    assert run.data.params == {}
    assert user_tags(run.data.tags) == {}
    # Nothing was reserved either: the next automatic step is still 0.
    client.log_metric(run_id, "loss", 1.0)
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [0]
    assert client.log_param(run_id, "lr", 0.2) == 0.2  # no phantom value to conflict with


def test_log_batch_with_a_bad_tag_stores_nothing(client: TrackingClient, run_id: str) -> None:
    with pytest.raises(InvalidInputError, match="tag 'note' is 8001 characters"):
        client.log_batch(
            run_id, metrics=[("m", 1.0, None, 0)], params=[("p", 1)], tags=[("note", "x" * 8001)]
        )
    run = client.get_run(run_id)
    assert (run.data.metrics, run.data.params, user_tags(run.data.tags)) == ({}, {}, {})


def test_nul_characters_in_text_are_refused_when_logged(
    client: TrackingClient, run_id: str
) -> None:
    # PostgreSQL text cannot hold NUL; SQLite could, so both refuse it at the call,
    # before anything is queued (re-run on PostgreSQL by test_postgres_tracking).
    bad = "a\x00b"
    nul = r"contains a NUL character \('\\x00'\) at position 1"
    with pytest.raises(InvalidInputError, match=rf"param 'p' {nul}.*replace"):
        client.log_param(run_id, "p", bad)
    with pytest.raises(InvalidInputError, match=rf"tag 't' {nul}"):
        client.set_tag(run_id, "t", bad)
    with pytest.raises(InvalidInputError, match=rf"param 'q' {nul}"):
        client.log_batch(run_id, metrics=[("m", 1.0, None, 0)], params=[("q", bad)])
    with pytest.raises(InvalidInputError, match=rf"run name {nul}"):
        client.create_run("0", run_name=bad)
    with pytest.raises(InvalidInputError, match=rf"run name {nul}"):
        client.update_run(run_id, name=bad)
    with pytest.raises(InvalidInputError, match=rf"experiment name {nul}"):
        client.create_experiment(bad)
    with pytest.raises(InvalidInputError, match=rf"tag 'k' {nul}"):
        client.create_experiment("fine", tags={"k": bad})
    with pytest.raises(InvalidInputError, match="contains"):
        client.log_metric(run_id, bad, 1.0)  # keys: the key alphabet already refuses it
    client.log_param(run_id, "p", "ok")  # the writer got nothing bad: later values go through
    run = client.get_run(run_id)
    assert (run.data.metrics, run.data.params, user_tags(run.data.tags)) == ({}, {"p": "ok"}, {})
    assert client.get_experiment_by_name("fine") is None


def test_metric_history_is_ordered_by_step(client: TrackingClient, run_id: str) -> None:
    for step in (5, 1, 3, 0, 4, 2):
        client.log_metric(run_id, "loss", step / 10, timestamp=100 + step, step=step)
    client.log_metric(run_id, "loss", 0.33, step=3)  # the same step again replaces the value
    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4, 5]
    assert [m.value for m in history] == [0.0, 0.1, 0.2, 0.33, 0.4, 0.5]
    assert history[0].timestamp == 100
    assert client.get_run(run_id).data.metrics == {"loss": 0.5}  # value at the highest step
    assert client.get_metric_history(run_id, "never") == []


def test_metric_history_gives_back_nan_and_infinities_exactly(
    client: TrackingClient, run_id: str
) -> None:
    """NaN is stored as NULL on both backends; the history gives NaN back, as logged."""
    values = [0.5, float("nan"), float("inf"), float("-inf"), 1e-300, -2.25]
    for step, value in enumerate(values):
        client.log_metric(run_id, "odd", value, timestamp=1_700_000_000_000 + step, step=step)
    history = client.get_metric_history(run_id, "odd")
    assert [type(m.value) for m in history] == [float] * len(values)
    assert math.isnan(history[1].value)
    assert [m.value for i, m in enumerate(history) if i != 1] == values[:1] + values[2:]
    assert [(m.key, m.step, m.timestamp) for m in history] == [
        ("odd", step, 1_700_000_000_000 + step) for step in range(len(values))
    ]
    assert all(type(m.step) is int and type(m.timestamp) is int for m in history)


def test_metric_histories_are_per_run(client: TrackingClient, run_id: str) -> None:
    other = client.create_run("0").info.run_id
    client.log_metric(run_id, "loss", 1.0)
    client.log_metric(other, "loss", 2.0)
    client.log_metric(other, "loss", 3.0)
    assert [m.value for m in client.get_metric_history(run_id, "loss")] == [1.0]
    assert [m.value for m in client.get_metric_history(other, "loss")] == [2.0, 3.0]


def test_get_metric_keys(client: TrackingClient, run_id: str) -> None:
    assert client.get_metric_keys(run_id) == []
    client.log_metric(run_id, "val/loss", 1.0)
    client.log_metric(run_id, "acc", 1.0)
    client.log_metric(run_id, "acc", 2.0)
    other = client.create_run("0").info.run_id
    client.log_metric(other, "only-other", 1.0)
    assert client.get_metric_keys(run_id) == ["acc", "val/loss"]
    assert client.get_metric_keys(other) == ["only-other"]


def test_delete_tag(client: TrackingClient, run_id: str) -> None:
    client.set_tag(run_id, "a", 1)
    client.set_tag(run_id, "b", 2)
    client.delete_tag(run_id, "a")
    assert user_tags(client.get_run(run_id).data.tags) == {"b": "2"}


# -- artifacts -------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "top.txt").write_text("top")
    (root / "sub" / "mid.txt").write_text("mid")
    (root / "sub" / "deeper" / "low.bin").write_bytes(b"\x01\x02")
    return root


def test_log_artifacts_preserves_layout(client: TrackingClient, run_id: str, tree: Path) -> None:
    logged = client.log_artifacts(run_id, tree)
    assert logged == ["sub/deeper/low.bin", "sub/mid.txt", "top.txt"]
    under = client.log_artifacts(run_id, tree, artifact_path="copy/here")
    assert under == ["copy/here/sub/deeper/low.bin", "copy/here/sub/mid.txt", "copy/here/top.txt"]
    assert client.read_artifact(run_id, "sub/deeper/low.bin") == b"\x01\x02"
    assert client.read_artifact(run_id, "copy/here/top.txt") == b"top"


def test_log_artifacts_of_more_files_than_one_statement_holds(
    client: TrackingClient, run_id: str, tmp_path: Path
) -> None:
    source = tmp_path / "many"
    source.mkdir()
    for i in range(400):
        (source / f"{i:03d}.txt").write_text(str(i))
    assert len(client.log_artifacts(run_id, source)) == 400
    client.log_artifacts(run_id, source)  # again: every row replaced, none doubled
    client.flush()
    assert len(client.list_artifacts(run_id)) == 400
    assert client.read_artifact(run_id, "399.txt") == b"399"


def test_list_artifacts_dirs_and_files(client: TrackingClient, run_id: str, tree: Path) -> None:
    client.log_artifacts(run_id, tree)
    top = client.list_artifacts(run_id)
    assert [(a.path, a.is_dir, a.file_size) for a in top] == [
        ("sub", True, None),
        ("top.txt", False, 3),
    ]
    assert top[1].sha256 is not None
    assert len(top[1].sha256) == 64
    sub = client.list_artifacts(run_id, "sub")
    assert [(a.path, a.is_dir) for a in sub] == [("sub/deeper", True), ("sub/mid.txt", False)]
    deeper = client.list_artifacts(run_id, "sub/deeper")
    assert [(a.path, a.is_dir, a.file_size) for a in deeper] == [("sub/deeper/low.bin", False, 2)]
    assert client.list_artifacts(run_id, "nothing-here") == []
    assert client.list_artifacts(run_id, "su") == []  # a prefix of a name is not a directory


def test_download_artifacts_file_and_directory(
    client: TrackingClient, run_id: str, tree: Path, tmp_path: Path
) -> None:
    client.log_artifacts(run_id, tree)
    file_path = client.download_artifacts(run_id, "sub/mid.txt", tmp_path / "dl1")
    assert Path(file_path) == tmp_path / "dl1" / "sub" / "mid.txt"
    assert Path(file_path).read_text() == "mid"
    dir_path = Path(client.download_artifacts(run_id, "sub", tmp_path / "dl2"))
    assert dir_path == tmp_path / "dl2" / "sub"
    files = sorted(p.relative_to(dir_path).as_posix() for p in dir_path.rglob("*") if p.is_file())
    assert files == ["deeper/low.bin", "mid.txt"]
    assert (dir_path / "deeper" / "low.bin").read_bytes() == b"\x01\x02"
    everything = Path(client.download_artifacts(run_id))  # a fresh temp dir
    assert (everything / "top.txt").read_text() == "top"
    assert (everything / "sub" / "deeper" / "low.bin").is_file()
    with pytest.raises(NotFoundError, match="has no artifact at 'missing'"):
        client.download_artifacts(run_id, "missing", tmp_path / "dl3")


def test_read_artifact(client: TrackingClient, run_id: str) -> None:
    client.log_text(run_id, "héllo", "notes/a.txt")
    client.log_bytes(run_id, b"\xff\x00", "raw.bin")
    assert client.read_artifact(run_id, "notes/a.txt") == "héllo".encode()
    assert client.read_artifact(run_id, "raw.bin") == b"\xff\x00"
    # The path is read in its canonical form, as list_artifacts and download do.
    assert client.read_artifact(run_id, "./notes//a.txt") == "héllo".encode()
    with pytest.raises(NotFoundError, match="has no artifact file 'notes'"):
        client.read_artifact(run_id, "notes")  # a directory, not a file
    with pytest.raises(NotFoundError, match=re.escape("has no artifact file 'nope.txt'")):
        client.read_artifact(run_id, "nope.txt")


def test_artifact_logged_again_at_the_same_path_is_replaced(
    client: TrackingClient, run_id: str
) -> None:
    client.log_text(run_id, "v1", "model.txt")
    client.log_text(run_id, "v2", "model.txt")
    assert client.read_artifact(run_id, "model.txt") == b"v2"
    assert [a.path for a in client.list_artifacts(run_id)] == ["model.txt"]


def test_same_file_logged_by_100_runs_is_stored_once(
    client: TrackingClient, store_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(b"w" * 10_000)
    run_ids = [client.create_run("0").info.run_id for _ in range(100)]
    for run_id in run_ids:
        assert client.log_artifact(run_id, source, "model") == "model/weights.bin"
    client.log_text(run_ids[0], "different", "other.txt")
    client.flush()
    blobs = _blob_files(store_dir)
    assert len(blobs) == 2
    assert sorted(b.stat().st_size for b in blobs) == [9, 10_000]
    assert _count(store_dir, "SELECT count(*) FROM artifacts") == 101
    assert _count(store_dir, "SELECT count(DISTINCT sha256) FROM artifacts") == 2
    assert client.read_artifact(run_ids[57], "model/weights.bin") == b"w" * 10_000
    assert list((store_dir / "artifacts" / "tmp").iterdir()) == []


def test_garbage_collect(client: TrackingClient, store_dir: Path) -> None:
    keep = client.create_run("0").info.run_id
    drop = client.create_run("0").info.run_id
    child = client.create_run("0", parent_run_id=drop).info.run_id
    client.log_text(keep, "shared", "shared.txt")
    client.log_text(drop, "shared", "same-content.txt")
    client.log_text(drop, "only in the dropped run", "mine.txt")
    for run_id in (keep, drop):
        client.log_metric(run_id, "m", 1.0)
        client.log_param(run_id, "p", 1)
        client.set_tag(run_id, "t", 1)
    orphan_sha, _ = client._store.blobs.put_bytes(b"written but never recorded")
    client.delete_run(drop)
    assert len(_blob_files(store_dir)) == 3

    # Within the grace period, the unreferenced blobs stay.
    result = client.garbage_collect()
    assert result["runs"] == 1
    assert result["blobs"] == 0
    assert len(_blob_files(store_dir)) == 3
    drop_pk_rows = _count(store_dir, "SELECT count(*) FROM runs WHERE run_id = ?", drop)
    assert drop_pk_rows == 0
    for table in ("metrics", "latest_metrics", "params", "tags", "artifacts"):
        total = _count(store_dir, f"SELECT count(*) FROM {table}")
        kept = _count(
            store_dir,
            f"SELECT count(*) FROM {table} WHERE run_pk IN (SELECT run_pk FROM runs)",
        )
        assert total == kept, table
    assert client.get_run(child).info.parent_run_id is None
    with pytest.raises(NotFoundError):
        client.get_run(drop)

    result = client.garbage_collect(grace_seconds=0)
    freed = len(b"only in the dropped run") + len(b"written but never recorded")
    assert result == {"runs": 0, "blobs": 2, "bytes": freed}
    assert not client._store.blobs.path_of(orphan_sha).exists()
    assert len(_blob_files(store_dir)) == 1
    assert client.read_artifact(keep, "shared.txt") == b"shared"
    kept_run = client.get_run(keep)
    assert kept_run.data.metrics == {"m": 1.0}
    assert kept_run.data.params == {"p": "1"}


def test_garbage_collect_with_nothing_to_do(client: TrackingClient, run_id: str) -> None:
    client.log_text(run_id, "x", "x.txt")
    assert client.garbage_collect(grace_seconds=0) == {"runs": 0, "blobs": 0, "bytes": 0}
    assert client.read_artifact(run_id, "x.txt") == b"x"


# -- experiments -----------------------------------------------------------------------


def test_experiments(client: TrackingClient) -> None:
    experiment_id = client.create_experiment("exp", tags={"owner": "me"})
    experiment = client.get_experiment(experiment_id)
    assert experiment.name == "exp"
    assert experiment.tags == {"owner": "me"}
    assert experiment.creation_time > 0
    assert client.get_experiment_by_name("exp") == experiment
    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    with pytest.raises(InvalidInputError, match="is deleted"):
        client.create_run(experiment_id)
    client.restore_experiment(experiment_id)
    assert client.create_run(experiment_id).info.experiment_id == experiment_id
    with pytest.raises(NotFoundError):
        client.delete_experiment("12345")


def test_two_clients_share_one_store(store_dir: Path, client: TrackingClient) -> None:
    other = TrackingClient(f"sqlite:///{store_dir / 'nbtrack.db'}")
    assert other._store is client._store
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "m", 2.0)
    assert other.get_run(run_id).data.metrics == {"m": 2.0}


def test_logging_to_a_deleted_run_is_refused_until_it_is_restored(
    client: TrackingClient, run_id: str, tmp_path: Path
) -> None:
    client.log_metric(run_id, "x", 1.0, step=0)
    client.delete_run(run_id)
    (tmp_path / "f.txt").write_text("x")
    attempts = [
        lambda: client.log_metric(run_id, "x", 2.0, step=1),
        lambda: client.log_batch(run_id, metrics=[("x", 2.0, None, 1)]),
        lambda: client.log_param(run_id, "lr", 0.1),
        lambda: client.set_tag(run_id, "t", "v"),
        lambda: client.log_artifact(run_id, tmp_path / "f.txt"),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidInputError, match=f"run {run_id} is deleted; restore it"):
            attempt()
    # Another client of the same store refuses it too.
    later = TrackingClient(client.tracking_uri)
    with pytest.raises(InvalidInputError, match="is deleted"):
        later.log_metric(run_id, "x", 2.0, step=1)
    client.restore_run(run_id)
    client.log_metric(run_id, "x", 3.0, step=1)
    client.log_param(run_id, "lr", 0.1)
    assert [m.value for m in client.get_metric_history(run_id, "x")] == [1.0, 3.0]
    assert client.get_run(run_id).data.params == {"lr": "0.1"}


def test_logging_to_a_purged_run_is_refused(client: TrackingClient) -> None:
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "x", 1.0)
    client.set_terminated(run_id)
    client.delete_run(run_id)
    assert client.garbage_collect(grace_seconds=0)["runs"] == 1
    with pytest.raises(NotFoundError, match="no run with id"):
        client.log_metric(run_id, "x", 2.0)
