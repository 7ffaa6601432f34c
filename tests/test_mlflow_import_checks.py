"""What ``import-mlflow`` refuses or reports: names from the source are checked before use.

Small MLflow ``./mlruns`` stores (quick to create), built by MLflow in each test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nbtrack
from nbtrack.exceptions import InvalidInputError
from nbtrack.mlflow_io import import_mlflow
from nbtrack.mlflow_io._common import checked_path, regular_files

mlflow = pytest.importorskip("mlflow", reason="MLflow comes with the test extra")
from mlflow import MlflowClient  # noqa: E402


@pytest.fixture(autouse=True)
def _file_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def test_a_forged_run_id_tag_is_refused_before_its_run_is_written(
    tmp_path: Path, client: nbtrack.TrackingClient
) -> None:
    source = str(tmp_path / "mlruns")
    theirs = MlflowClient(source)
    exp = theirs.create_experiment("x")
    run = theirs.create_run(exp, tags={"nbtrack.run_id": "../../../etc/passwd"})
    theirs.log_metric(run.info.run_id, "m", 1.0)
    with pytest.raises(InvalidInputError, match=r"nbtrack\.run_id.*not a run id"):
        import_mlflow(source)
    assert client.search_runs(run_view_type=3) == []


def test_points_at_one_step_are_merged_and_counted(
    tmp_path: Path, client: nbtrack.TrackingClient
) -> None:
    source = str(tmp_path / "mlruns")
    theirs = MlflowClient(source)
    run = theirs.create_run(theirs.create_experiment("x"))
    for i, value in enumerate([3.0, 2.0, 1.0]):  # MLflow's default: step 0 each time
        theirs.log_metric(run.info.run_id, "loss", value, timestamp=1000 + i)
    theirs.log_metric(run.info.run_id, "loss", 0.5, timestamp=2000, step=1)
    report = import_mlflow(source)
    assert report.points_merged == 2
    assert "2 metric point(s) shared a step" in report.summary()
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [(0, 1.0, 1002), (1, 0.5, 2000)]


def test_artifact_paths_that_leave_the_run_are_refused() -> None:
    for bad in ("../secret", "/etc/passwd", "a/../../b", "C:/x"):
        with pytest.raises(InvalidInputError, match="refusing artifact path"):
            checked_path(bad, "run 1")
    assert checked_path("plots/a.png", "run 1") == "plots/a.png"


def test_model_files_may_not_be_links(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours")
    assert [rel for _, rel in regular_files(model, "m")] == ["MLmodel"]
    (model / "weights.bin").symlink_to(outside)
    with pytest.raises(InvalidInputError, match="symbolic link"):
        regular_files(model, "model 'm' version 1")
