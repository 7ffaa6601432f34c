"""``nbtrack export-mlflow``: MLflow's own client reads what nbtrack wrote, and the way back.

One nbtrack store and one export per module (MLflow takes seconds to create
a store); the round trip nbtrack -> MLflow -> nbtrack is compared field by field.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import nbtrack
from _models_helpers import iris_classifier
from nbtrack.cli import main
from nbtrack.mlflow_io import export_mlflow, import_mlflow
from nbtrack.store import close_all

mlflow = pytest.importorskip("mlflow", reason="MLflow comes with the test extra")
from mlflow import MlflowClient  # noqa: E402

VALUES = [0.25, float("nan"), float("inf"), float("-inf"), 1e-300, 2.5]


@dataclass
class Exported:
    nbtrack_uri: str
    mlflow_uri: str
    run_ids: list[str]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    root = tmp_path_factory.mktemp("export")
    uri = str(root / "nb" / ".nbtrack")
    client = nbtrack.TrackingClient(uri)
    exp = client.create_experiment("tabular", tags={"team": "ml"})
    parent = client.create_run(exp, start_time=1_700_000_000_000, run_name="sweep")
    pid = parent.info.run_id
    client.log_batch(
        pid,
        metrics=[("loss", v, 1_700_000_000_100 + i, i * 3) for i, v in enumerate(VALUES)]
        + [("acc", i / 3000, 1_700_000_001_000 + i, i) for i in range(3000)],
        params=[("lr", "0.01"), ("depth", 4)],
        tags=[("stage", "dev")],
    )
    client.log_text(pid, "notes ✓", "docs/notes.txt")
    client.log_bytes(pid, bytes(range(256)) * 8, "raw/blob.bin")
    clf, X = iris_classifier()
    nbtrack.set_tracking_uri(uri)
    try:
        with nbtrack.start_run(run_id=pid):
            nbtrack.sklearn.log_model(clf, "model", input_example=X[:3])
    finally:
        nbtrack.set_tracking_uri(None)
    client.set_terminated(pid, "FINISHED", end_time=1_700_000_005_000)
    child = client.create_run(
        exp, start_time=1_700_000_000_500, run_name="trial", parent_run_id=pid
    )
    client.log_metric(child.info.run_id, "loss", 1.5, timestamp=1_700_000_000_600, step=0)
    client.set_terminated(child.info.run_id, "FAILED", end_time=1_700_000_000_900)
    client.create_model_version("iris", f"runs:/{pid}/model", tags={"k": "v"}, description="d1")
    client.create_model_version("iris", f"runs:/{pid}/model")
    client.transition_model_version_stage("iris", 1, "Staging")
    client.set_registered_model_alias("iris", "champion", 2)
    client.set_registered_model_tag("iris", "owner", "ml")
    client.flush()
    dest = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # MLflow puts a SQLite store's artifacts in ./mlruns
        export_mlflow(dest, tracking_uri=uri)
        yield Exported(uri, dest, [pid, child.info.run_id])
    close_all()


def _mlflow_runs(exported: Exported) -> dict[str, object]:
    theirs = MlflowClient(exported.mlflow_uri)
    exp = theirs.get_experiment_by_name("tabular")
    return {r.data.tags["nbtrack.run_id"]: r for r in theirs.search_runs([exp.experiment_id])}


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_mlflow_reads_every_field(exported: Exported) -> None:
    ours = nbtrack.TrackingClient(exported.nbtrack_uri)
    theirs = MlflowClient(exported.mlflow_uri)
    runs = _mlflow_runs(exported)
    assert set(runs) == set(exported.run_ids)
    for run_id in exported.run_ids:
        mine, run = ours.get_run(run_id), runs[run_id]
        assert run.info.run_name == mine.info.run_name  # type: ignore[attr-defined]
        assert run.info.status == mine.info.status  # type: ignore[attr-defined]
        assert run.info.start_time == mine.info.start_time  # type: ignore[attr-defined]
        assert run.info.end_time == mine.info.end_time  # type: ignore[attr-defined]
        assert run.data.params == mine.data.params  # type: ignore[attr-defined]
        for key in mine.data.metrics:
            mlflow_id = run.info.run_id  # type: ignore[attr-defined]
            got = sorted(theirs.get_metric_history(mlflow_id, key), key=lambda m: m.step)
            want = ours.get_metric_history(run_id, key)
            assert [(m.step, m.timestamp) for m in got] == [(m.step, m.timestamp) for m in want]
            # MLflow's SQLite store writes +-inf as +-max float
            assert all(
                _same(g.value, w.value) or (abs(w.value) == math.inf and abs(g.value) > 1e308)
                for g, w in zip(got, want, strict=True)
            )
    parent, child = (runs[i] for i in exported.run_ids)
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id  # type: ignore[attr-defined]
    pid = parent.info.run_id  # type: ignore[attr-defined]
    assert theirs.get_experiment_by_name("tabular").tags["team"] == "ml"
    local = Path(theirs.download_artifacts(pid, "raw/blob.bin"))
    assert local.read_bytes() == bytes(range(256)) * 8
    model = theirs.get_registered_model("iris")
    assert {k: str(v) for k, v in model.aliases.items()} == {"champion": "2"}
    assert model.tags == {"owner": "ml"}
    assert theirs.get_model_version("iris", "1").current_stage == "Staging"


def test_round_trip_loses_nothing(exported: Exported, client: nbtrack.TrackingClient) -> None:
    ours = nbtrack.TrackingClient(exported.nbtrack_uri)
    import_mlflow(exported.mlflow_uri, tracking_uri=client.tracking_uri)
    for run_id in exported.run_ids:  # the ids come back
        a, b = ours.get_run(run_id), client.get_run(run_id)
        assert a.info == type(a.info)(**{**_fields(b.info), "artifact_uri": a.info.artifact_uri})
        assert a.data == b.data
        for key in a.data.metrics:
            want, got = ours.get_metric_history(run_id, key), client.get_metric_history(run_id, key)
            assert [(m.step, m.timestamp) for m in got] == [(m.step, m.timestamp) for m in want]
            assert all(_same(g.value, w.value) for g, w in zip(got, want, strict=True))
        assert [(p, s) for p, s, _ in ours._store.artifact_rows(run_id)] == [
            (p, s) for p, s, _ in client._store.artifact_rows(run_id)
        ]
    a_model, b_model = ours.get_registered_model("iris"), client.get_registered_model("iris")
    assert (a_model.tags, a_model.aliases, a_model.description) == (
        b_model.tags,
        b_model.aliases,
        b_model.description,
    )
    for number in (1, 2):
        a_v, b_v = ours.get_model_version("iris", number), client.get_model_version("iris", number)
        assert (a_v.files, a_v.tags, a_v.current_stage, a_v.source, a_v.run_id) == (
            b_v.files,
            b_v.tags,
            b_v.current_stage,
            b_v.source,
            b_v.run_id,
        )
        assert a_v.description == b_v.description
        assert a_v.flavor == b_v.flavor == "sklearn"


def _fields(info: object) -> dict[str, object]:
    return {name: getattr(info, name) for name in info.__slots__}  # type: ignore[attr-defined]


def test_second_export_writes_nothing(exported: Exported) -> None:
    result = CliRunner().invoke(
        main, ["--tracking-uri", exported.nbtrack_uri, "export-mlflow", exported.mlflow_uri]
    )
    assert result.exit_code == 0, result.output
    assert "0 run(s) (2 already there)" in result.output
    assert "0 model version(s) (2 already there)" in result.output
    assert len(_mlflow_runs(exported)) == 2
    # MLflow's current tracking URI was set for the export only
    assert "MLFLOW_TRACKING_URI" not in os.environ


def test_models_stay_loadable_by_mlflow(exported: Exported) -> None:
    # Last in the module: loading a registered model from a local store, MLflow
    # writes a registered_model_meta file beside the model's files.
    clf, X = iris_classifier()
    runs = _mlflow_runs(exported)
    pid = runs[exported.run_ids[0]].info.run_id  # type: ignore[attr-defined]
    mlflow.set_tracking_uri(exported.mlflow_uri)
    mlflow.set_registry_uri(exported.mlflow_uri)
    try:
        from_run = mlflow.pyfunc.load_model(f"runs:/{pid}/model")
        from_registry = mlflow.pyfunc.load_model("models:/iris@champion")
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    np.testing.assert_array_equal(from_run.predict(X), clf.predict(X))
    np.testing.assert_array_equal(from_registry.predict(X), clf.predict(X))


def test_the_default_store_is_exported_and_a_missing_one_creates_no_destination(
    exported: Exported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `nbtrack export-mlflow DEST` typed in a project reads the project's
    # ./.nbtrack, not DEST (MLflow's URI is set while the export runs).
    project = Path(exported.nbtrack_uri).parent
    monkeypatch.chdir(project)
    monkeypatch.delenv("NBTRACK_TRACKING_URI")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    dest = f"sqlite:///{tmp_path / 'again.db'}"
    result = CliRunner().invoke(main, ["export-mlflow", dest, "-e", "tabular"])
    assert result.exit_code == 0, result.output
    assert "2 run(s) (0 already there)" in result.output
    # No store here: an error naming where it looked, and no empty MLflow store made.
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    missing = CliRunner().invoke(main, ["export-mlflow", f"sqlite:///{empty / 'out.db'}"])
    assert missing.exit_code == 1
    assert f"no store at {empty / '.nbtrack'} (create one by logging a run)" in missing.output
    assert list(empty.iterdir()) == []
