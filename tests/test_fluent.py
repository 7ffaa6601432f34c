"""The module-level API, used with MLflow's names against a real store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

import nbtrack
import nbtrack as mlflow
from _tag_helpers import user_tags
from nbtrack import InvalidInputError, NotFoundError, ViewType
from nbtrack.store import close_all

# -- tracking URI and experiments ------------------------------------------------------


def test_set_and_get_tracking_uri(tmp_path: Path, store_dir: Path) -> None:
    assert nbtrack.get_tracking_uri() == f"sqlite:///{store_dir / 'nbtrack.db'}"
    nbtrack.set_tracking_uri(tmp_path / "other")
    assert nbtrack.get_tracking_uri() == f"sqlite:///{tmp_path / 'other' / 'nbtrack.db'}"
    with nbtrack.start_run() as run:
        nbtrack.log_param("where", "other")
    assert (tmp_path / "other" / "nbtrack.db").is_file()
    assert nbtrack.get_run(run.info.run_id).data.params == {"where": "other"}
    nbtrack.set_tracking_uri(None)
    with pytest.raises(NotFoundError):
        nbtrack.get_run(run.info.run_id)  # the default store does not have it


def test_set_experiment_creates_once_and_reuses() -> None:
    first = nbtrack.set_experiment("exp-a")
    second = nbtrack.set_experiment("exp-a")
    assert first.experiment_id == second.experiment_id
    assert first.name == "exp-a"
    assert first.experiment_id != "0"
    assert [e.name for e in nbtrack.search_experiments()] == ["Default", "exp-a"]
    with nbtrack.start_run() as run:
        pass
    assert run.info.experiment_id == first.experiment_id
    by_id = nbtrack.set_experiment(experiment_id=first.experiment_id)
    assert by_id.name == "exp-a"


def test_set_experiment_needs_exactly_one_argument() -> None:
    with pytest.raises(InvalidInputError, match="exactly one of experiment_name, experiment_id"):
        nbtrack.set_experiment()
    with pytest.raises(InvalidInputError, match="exactly one"):
        nbtrack.set_experiment("a", experiment_id="0")


def test_set_experiment_refuses_a_deleted_experiment() -> None:
    experiment_id = nbtrack.create_experiment("gone")
    nbtrack.TrackingClient().delete_experiment(experiment_id)
    with pytest.raises(InvalidInputError, match=r"Cannot set a deleted experiment 'gone'.*restore"):
        nbtrack.set_experiment("gone")
    with pytest.raises(InvalidInputError, match="Cannot set a deleted experiment"):
        nbtrack.set_experiment(experiment_id=experiment_id)
    with pytest.raises(InvalidInputError, match="is deleted; restore it"):
        nbtrack.start_run(experiment_id=experiment_id)
    assert nbtrack.active_run() is None
    nbtrack.TrackingClient().restore_experiment(experiment_id)
    assert nbtrack.set_experiment("gone").experiment_id == experiment_id


def test_create_experiment_with_a_taken_name_is_an_error() -> None:
    experiment_id = nbtrack.create_experiment("dup", tags={"team": "vision"})
    with pytest.raises(InvalidInputError, match=r"Experiment\(name=dup\) already exists \(id"):
        nbtrack.create_experiment("dup")
    experiment = nbtrack.get_experiment_by_name("dup")
    assert experiment is not None
    assert experiment.experiment_id == experiment_id
    assert experiment.tags == {"team": "vision"}
    assert experiment.lifecycle_stage == "active"
    assert nbtrack.get_experiment(experiment_id).name == "dup"
    assert nbtrack.get_experiment_by_name("nope") is None


def test_search_experiments_with_name_filters() -> None:
    for name in ("vision_a", "vision-b", "VISION-c", "nlp%1"):
        nbtrack.create_experiment(name)

    def names(filter_string: str, **kwargs: object) -> list[str]:
        found = nbtrack.search_experiments(filter_string=filter_string, **kwargs)
        return [e.name for e in found]

    assert names("name = 'vision_a'") == ["vision_a"]
    assert names("name = 'vision%'") == []  # '=' is exact: no wildcards
    assert names("name = 'nlp%1'") == ["nlp%1"]
    assert names("name LIKE 'vision%'") == ["vision_a", "vision-b"]  # LIKE is case-sensitive
    assert names("name ILIKE 'vision%'") == ["vision_a", "vision-b", "VISION-c"]
    assert names("attributes.name like 'vision_b'") == ["vision-b"]
    assert names("name LIKE '%'", max_results=2) == ["Default", "vision_a"]


def test_search_experiments_view_types() -> None:
    keep = nbtrack.create_experiment("keep")
    drop = nbtrack.create_experiment("drop")
    nbtrack.TrackingClient().delete_experiment(drop)
    assert [e.experiment_id for e in nbtrack.search_experiments()] == ["0", keep]
    deleted = nbtrack.search_experiments(ViewType.DELETED_ONLY)
    assert [e.experiment_id for e in deleted] == [drop]
    assert len(nbtrack.search_experiments(ViewType.ALL)) == 3


# -- runs ------------------------------------------------------------------------------


def test_start_run_context_manager_finishes_the_run() -> None:
    with nbtrack.start_run(
        run_name="baseline", tags={"team": "vision"}, description="first try"
    ) as run:
        assert nbtrack.active_run() is run
        assert nbtrack.last_active_run_id() == run.info.run_id
        assert len(run.info.run_id) == 32
        assert run.info.status == "RUNNING"
    assert nbtrack.active_run() is None
    stored = nbtrack.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.info.run_name == "baseline"
    assert stored.info.end_time is not None
    assert stored.info.end_time >= stored.info.start_time
    assert user_tags(stored.data.tags) == {"team": "vision", "mlflow.note.content": "first try"}


def test_start_run_context_manager_fails_the_run_on_exception() -> None:
    started: list[nbtrack.ActiveRun] = []

    def crash() -> None:
        with nbtrack.start_run() as run:
            started.append(run)
            nbtrack.log_metric("loss", 1.0)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        crash()
    [run] = started
    assert nbtrack.active_run() is None
    stored = nbtrack.get_run(run.info.run_id)
    assert stored.info.status == "FAILED"
    assert stored.data.metrics == {"loss": 1.0}


def test_run_gets_a_generated_name_when_none_is_given() -> None:
    with nbtrack.start_run() as run:
        pass
    assert run.info.run_name
    assert nbtrack.get_run(run.info.run_id).info.run_name == run.info.run_name


def test_nested_runs_record_the_parent_and_end_with_it() -> None:
    parent = nbtrack.start_run(run_name="parent")
    child = nbtrack.start_run(run_name="child", nested=True)
    grandchild = nbtrack.start_run(nested=True)
    assert nbtrack.active_run() is grandchild
    assert child.info.parent_run_id == parent.info.run_id
    assert grandchild.info.parent_run_id == child.info.run_id
    assert parent.info.parent_run_id is None
    nbtrack.end_run()  # ends the grandchild only
    assert nbtrack.active_run() is child
    assert nbtrack.get_run(grandchild.info.run_id).info.status == "FINISHED"
    assert nbtrack.get_run(parent.info.run_id).info.status == "RUNNING"
    nbtrack.start_run(nested=True)
    parent.__exit__(None, None, None)  # leaving the parent's block ends its children
    assert nbtrack.active_run() is None
    assert nbtrack.get_run(child.info.run_id).info.status == "FINISHED"
    frame = nbtrack.search_runs(filter_string="run_name = 'child'")
    assert frame["parent_run_id"].tolist() == [parent.info.run_id]


def test_nested_with_blocks() -> None:
    with nbtrack.start_run() as parent:
        with nbtrack.start_run(nested=True) as child:
            nbtrack.log_metric("inner", 1.0)
        assert nbtrack.active_run() is parent
        nbtrack.log_metric("outer", 2.0)
    assert nbtrack.get_run(child.info.run_id).data.metrics == {"inner": 1.0}
    assert nbtrack.get_run(parent.info.run_id).data.metrics == {"outer": 2.0}


def test_child_ended_inside_its_block_does_not_end_the_parent() -> None:
    with nbtrack.start_run() as parent:
        with nbtrack.start_run(nested=True) as child:
            nbtrack.end_run(status="KILLED")
        assert nbtrack.active_run() is parent
        nbtrack.log_metric("after", 1.0)
    assert nbtrack.get_run(child.info.run_id).info.status == "KILLED"
    stored = nbtrack.get_run(parent.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.metrics == {"after": 1.0}
    assert len(nbtrack.search_runs(output_format="list")) == 2  # no stray auto-started run


def test_start_run_while_active_without_nested_is_refused() -> None:
    run = nbtrack.start_run(run_name="first")
    with pytest.raises(InvalidInputError) as info:
        nbtrack.start_run()
    message = str(info.value)
    assert "'first'" in message
    assert run.info.run_id in message
    assert "end_run()" in message
    assert "nested=True" in message
    assert nbtrack.active_run() is run


def test_end_run_with_a_status() -> None:
    run = nbtrack.start_run()
    nbtrack.end_run(status="KILLED")
    assert nbtrack.get_run(run.info.run_id).info.status == "KILLED"
    nbtrack.end_run()  # nothing active: a no-op
    assert nbtrack.active_run() is None


def test_end_run_with_a_bad_status_keeps_the_run_active() -> None:
    run = nbtrack.start_run()
    with pytest.raises(InvalidInputError, match="unknown run status 'bogus'"):
        nbtrack.end_run(status="bogus")
    with pytest.raises(InvalidInputError, match="FINISHED, FAILED or KILLED, not 'RUNNING'"):
        nbtrack.end_run(status="RUNNING")
    assert nbtrack.active_run() is run
    assert nbtrack.get_run(run.info.run_id).info.status == "RUNNING"
    nbtrack.end_run(status="FAILED")
    assert nbtrack.get_run(run.info.run_id).info.status == "FAILED"


def test_logging_without_an_active_run_starts_one() -> None:
    assert nbtrack.active_run() is None
    nbtrack.log_metric("loss", 0.5)
    run = nbtrack.active_run()
    assert run is not None
    nbtrack.log_param("lr", 0.1)
    nbtrack.end_run()
    stored = nbtrack.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.metrics == {"loss": 0.5}
    assert stored.data.params == {"lr": "0.1"}


def test_log_params_metrics_and_tags() -> None:
    with nbtrack.start_run() as run:
        assert nbtrack.log_param("lr", 0.01) == 0.01
        nbtrack.log_params({"depth": 3, "optimizer": "adam", "dropout": None})
        nbtrack.log_metric("loss", 0.9)  # step 0
        nbtrack.log_metric("loss", 0.8)  # step 1
        nbtrack.log_metric("loss", 0.5, step=10)
        nbtrack.log_metric("loss", 0.4)  # step 11: the next after the highest
        nbtrack.log_metrics({"acc": 0.1, "f1": 0.2})  # step 0 each
        nbtrack.log_metrics({"acc": 0.3, "f1": 0.4}, step=5)
        nbtrack.log_metrics({"acc": 0.6})  # step 6
        nbtrack.log_metric("timed", 1.0, timestamp=1_700_000_000_000)
        nbtrack.set_tag("team", "vision")
        nbtrack.set_tags({"stage": "dev", "team": "nlp"})  # a tag set again takes the new value
        assert run.data.params["depth"] == "3"  # visible while the run is active
    run_id = run.info.run_id
    stored = nbtrack.get_run(run_id)
    assert stored.data.params == {
        "lr": "0.01",
        "depth": "3",
        "optimizer": "adam",
        "dropout": "None",
    }
    assert stored.data.metrics == {"loss": 0.4, "acc": 0.6, "f1": 0.4, "timed": 1.0}
    assert user_tags(stored.data.tags) == {"team": "nlp", "stage": "dev"}
    loss = nbtrack.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in loss] == [(0, 0.9), (1, 0.8), (10, 0.5), (11, 0.4)]
    assert [m.step for m in nbtrack.get_metric_history(run_id, "acc")] == [0, 5, 6]
    assert nbtrack.get_metric_history(run_id, "timed")[0].timestamp == 1_700_000_000_000
    assert all(m.key == "loss" for m in loss)


def test_log_params_is_all_or_nothing() -> None:
    with nbtrack.start_run() as run:
        with pytest.raises(InvalidInputError, match="would change meaning as a path"):
            nbtrack.log_params({"ok": 1, "../bad": 2})
        with pytest.raises(InvalidInputError, match="must be a number"):
            nbtrack.log_metrics({"ok": 1.0, "bad": "x"})
        # NUL: refused on SQLite as on PostgreSQL (whose text cannot hold it).
        with pytest.raises(InvalidInputError, match=r"param 'bad' contains a NUL character"):
            nbtrack.log_params({"ok": 1, "bad": "x\x00"})
        with pytest.raises(InvalidInputError, match=r"tag 'bad' contains a NUL character"):
            nbtrack.set_tags({"ok": 1, "bad": "\x00"})
        with pytest.raises(InvalidInputError, match=r"tag 'mlflow.runName' contains a NUL"):
            nbtrack.set_tag("mlflow.runName", "x\x00")
    stored = nbtrack.get_run(run.info.run_id)
    assert stored.data.params == {}
    assert stored.data.metrics == {}
    assert "ok" not in stored.data.tags


def test_log_artifacts_text_dict_and_figure(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (tmp_path / "model.bin").write_bytes(b"\x00weights")
    data_dir = tmp_path / "data"
    (data_dir / "sub").mkdir(parents=True)
    (data_dir / "a.csv").write_text("x\n1\n")
    (data_dir / "sub" / "b.csv").write_text("y\n2\n")
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with nbtrack.start_run() as run:
        # Like MLflow's, they return None: a notebook cell ending in one shows no Out[...].
        assert nbtrack.log_artifact(tmp_path / "model.bin") is None
        assert nbtrack.log_artifact(str(tmp_path / "model.bin"), "models") is None
        assert nbtrack.log_artifacts(data_dir, "data") is None
        assert nbtrack.log_text("hello\nwörld", "notes/readme.txt") is None
        assert nbtrack.log_dict({"lr": 0.1, "layers": [1, 2]}, "config.json") is None
        assert nbtrack.log_figure(fig, "plots/curve.png") is None
    plt.close(fig)
    client = nbtrack.TrackingClient()
    run_id = run.info.run_id
    top = client.list_artifacts(run_id)
    assert [(a.path, a.is_dir) for a in top] == [
        ("config.json", False),
        ("data", True),
        ("model.bin", False),
        ("models", True),
        ("notes", True),
        ("plots", True),
    ]
    assert client.read_artifact(run_id, "model.bin") == b"\x00weights"
    assert client.read_artifact(run_id, "models/model.bin") == b"\x00weights"
    assert client.read_artifact(run_id, "data/sub/b.csv") == b"y\n2\n"
    assert client.read_artifact(run_id, "notes/readme.txt").decode() == "hello\nwörld"
    assert json.loads(client.read_artifact(run_id, "config.json")) == {
        "lr": 0.1,
        "layers": [1, 2],
    }
    png = client.read_artifact(run_id, "plots/curve.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 1000


def test_log_figure_refuses_other_objects() -> None:
    with nbtrack.start_run(), pytest.raises(InvalidInputError, match="takes a matplotlib Figure"):
        nbtrack.log_figure([1, 2], "x.png")


def test_log_artifact_of_a_missing_file_or_directory() -> None:
    with nbtrack.start_run():
        with pytest.raises(InvalidInputError, match="does not exist"):
            nbtrack.log_artifact("missing.txt")
        with pytest.raises(InvalidInputError, match="is not a file; use log_artifacts"):
            nbtrack.log_artifact(".")
        with pytest.raises(InvalidInputError, match="is not a directory"):
            nbtrack.log_artifacts("missing-dir")


# -- search ----------------------------------------------------------------------------


def _three_runs() -> list[str]:
    ids = []
    for i, (lr, acc) in enumerate([(0.1, 0.5), (0.01, 0.9), (0.001, 0.7)]):
        with nbtrack.start_run(run_name=f"run-{i}", tags={"team": "vision"}) as run:
            nbtrack.log_param("lr", lr)
            nbtrack.log_metric("acc", acc)
        ids.append(run.info.run_id)
    return ids


def test_search_runs_returns_mlflow_columns() -> None:
    ids = _three_runs()
    frame = nbtrack.search_runs()
    assert isinstance(frame, pd.DataFrame)
    for column in (
        "run_id",
        "experiment_id",
        "run_name",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
        "parent_run_id",
        "params.lr",
        "metrics.acc",
        "tags.team",
    ):
        assert column in frame.columns
    assert set(frame["run_id"]) == set(ids)
    assert set(frame["status"]) == {"FINISHED"}
    assert str(frame["start_time"].dt.tz) == "UTC"
    assert frame["metrics.acc"].dtype == "float64"
    row = frame.set_index("run_id").loc[ids[1]]
    assert row["params.lr"] == "0.01"
    assert row["metrics.acc"] == 0.9
    assert row["tags.team"] == "vision"
    assert row["run_name"] == "run-1"
    # MLflow's default order: newest first.
    assert frame["start_time"].is_monotonic_decreasing


def test_search_runs_filter_order_and_limit() -> None:
    ids = _three_runs()
    found = nbtrack.search_runs(filter_string="metrics.acc > 0.6", order_by=["metrics.acc DESC"])
    assert found["run_id"].tolist() == [ids[1], ids[2]]
    found = nbtrack.search_runs(filter_string="params.lr = '0.1'")
    assert found["run_id"].tolist() == [ids[0]]
    found = nbtrack.search_runs(order_by=["metrics.acc ASC"], max_results=2)
    assert found["run_id"].tolist() == [ids[0], ids[2]]
    empty = nbtrack.search_runs(filter_string="metrics.acc > 5")
    assert len(empty) == 0
    assert "run_id" in empty.columns


def test_search_runs_across_experiments() -> None:
    nbtrack.set_experiment("exp-1")
    with nbtrack.start_run() as one:
        nbtrack.log_metric("m", 1.0)
    nbtrack.set_experiment("exp-2")
    with nbtrack.start_run() as two:
        nbtrack.log_metric("m", 2.0)
    assert nbtrack.search_runs()["run_id"].tolist() == [two.info.run_id]  # active experiment
    by_name = nbtrack.search_runs(experiment_names=["exp-1"])
    assert by_name["run_id"].tolist() == [one.info.run_id]
    by_ids = nbtrack.search_runs(
        experiment_ids=[one.info.experiment_id, two.info.experiment_id], order_by=["metrics.m"]
    )
    assert by_ids["run_id"].tolist() == [one.info.run_id, two.info.run_id]
    everything = nbtrack.search_runs(search_all_experiments=True)
    assert set(everything["run_id"]) == {one.info.run_id, two.info.run_id}
    # As in MLflow, a name of no experiment selects nothing.
    assert nbtrack.search_runs(experiment_names=["nope"], output_format="list") == []
    assert nbtrack.search_runs(experiment_names=["nope"]).empty


def test_search_runs_as_a_list() -> None:
    ids = _three_runs()
    runs = nbtrack.search_runs(output_format="list", order_by=["metrics.acc DESC"])
    assert isinstance(runs, list)
    assert [r.info.run_id for r in runs] == [ids[1], ids[2], ids[0]]
    assert runs[0].data.params == {"lr": "0.01"}
    with pytest.raises(InvalidInputError, match="output_format must be 'pandas' or 'list'"):
        nbtrack.search_runs(output_format="json")


def test_deleted_runs_are_hidden_until_asked_for() -> None:
    ids = _three_runs()
    nbtrack.delete_run(ids[0])
    assert set(nbtrack.search_runs()["run_id"]) == {ids[1], ids[2]}
    deleted = nbtrack.search_runs(run_view_type=ViewType.DELETED_ONLY)
    assert deleted["run_id"].tolist() == [ids[0]]
    assert len(nbtrack.search_runs(run_view_type=ViewType.ALL)) == 3
    assert nbtrack.get_run(ids[0]).info.lifecycle_stage == "deleted"
    nbtrack.restore_run(ids[0])
    assert len(nbtrack.search_runs()) == 3
    assert nbtrack.get_run(ids[0]).info.lifecycle_stage == "active"
    assert len(nbtrack.search_runs(run_view_type=ViewType.DELETED_ONLY)) == 0


def test_flush_makes_logged_values_durable(store_dir: Path) -> None:
    import sqlite3

    nbtrack.log_metric("loss", 0.25, step=3)
    nbtrack.flush()
    with sqlite3.connect(store_dir / "nbtrack.db") as conn:
        rows = conn.execute("SELECT step, value FROM metrics").fetchall()
    assert rows == [(3, 0.25)]


def test_import_as_mlflow_common_calls() -> None:
    mlflow.set_experiment("ported")
    with mlflow.start_run(run_name="port") as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_params({"l1_ratio": 0.1})
        for epoch in range(3):
            mlflow.log_metric("rmse", 1.0 / (epoch + 1), step=epoch)
        mlflow.log_metrics({"r2": 0.8, "mae": 0.3})
        mlflow.set_tag("mlflow.source.type", "NOTEBOOK")
        mlflow.log_text("ok", "status.txt")
    runs = mlflow.search_runs(experiment_names=["ported"])
    assert runs.loc[0, "metrics.rmse"] == pytest.approx(1 / 3)
    assert runs.loc[0, "params.alpha"] == "0.5"
    assert runs.loc[0, "tags.mlflow.source.type"] == "NOTEBOOK"
    client = mlflow.MlflowClient()
    history = client.get_metric_history(run.info.run_id, "rmse")
    assert [m.step for m in history] == [0, 1, 2]
    assert run.info.run_uuid == run.info.run_id
    assert mlflow.get_run(run.info.run_id).info.status == "FINISHED"


# -- resuming --------------------------------------------------------------------------


@pytest.mark.parametrize("reopen", [False, True])
def test_resume_continues_metric_steps(reopen: bool) -> None:
    with nbtrack.start_run() as run:
        for value in (0.9, 0.8, 0.7):
            nbtrack.log_metric("loss", value)
        nbtrack.log_metric("acc", 0.5, step=41)
        nbtrack.log_param("lr", 0.1)
    run_id = run.info.run_id
    if reopen:  # as a new process would: nothing known but what is on disk
        close_all()
    with nbtrack.start_run(run_id=run_id, run_name="resumed") as again:
        assert again.info.run_id == run_id
        assert again.info.status == "RUNNING"
        assert again.info.end_time is None
        nbtrack.log_metric("loss", 0.6)
        nbtrack.log_metric("acc", 0.6)
        nbtrack.log_metric("new", 1.0)
        nbtrack.log_param("lr", 0.1)  # same value: fine
        with pytest.raises(InvalidInputError, match=re.escape("already '0.1'")):
            nbtrack.log_param("lr", 0.2)
    stored = nbtrack.get_run(run_id)
    assert stored.info.status == "FINISHED"
    assert stored.info.run_name == "resumed"
    assert [m.step for m in nbtrack.get_metric_history(run_id, "loss")] == [0, 1, 2, 3]
    assert [m.step for m in nbtrack.get_metric_history(run_id, "acc")] == [41, 42]
    assert [m.step for m in nbtrack.get_metric_history(run_id, "new")] == [0]
    assert stored.data.metrics["loss"] == 0.6
    assert len(nbtrack.search_runs()) == 1


def test_resume_unknown_run_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="no run with id 'f00'"):
        nbtrack.start_run(run_id="f00")
    assert nbtrack.active_run() is None


def test_get_run_of_unknown_id() -> None:
    with pytest.raises(NotFoundError, match="no run with id 'nope'"):
        nbtrack.get_run("nope")


def test_environment_selects_the_experiment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBTRACK_EXPERIMENT_NAME", "from-env")
    with nbtrack.start_run() as run:
        pass
    experiment = nbtrack.get_experiment_by_name("from-env")
    assert experiment is not None
    assert run.info.experiment_id == experiment.experiment_id
    assert nbtrack.search_runs()["run_id"].tolist() == [run.info.run_id]
