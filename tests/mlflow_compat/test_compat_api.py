"""MLflow's public API as nbtrack offers it: module layout, system tags, env vars,
fluent functions and semantics (issue 12). Written for nbtrack; MLflow's own
tests run through ``test_mlflow_suite.py``."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbtrack
from nbtrack.entities import RunStatus, ViewType
from nbtrack.exceptions import InvalidInputError, MlflowException, NotFoundError
from nbtrack.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    ErrorCode,
)

ROOT = Path(__file__).parents[2]


def test_module_layout_names_mlflow_code_imports() -> None:
    import nbtrack.artifacts
    import nbtrack.data
    import nbtrack.tracking
    from nbtrack.environment_variables import MLFLOW_TRACKING_URI
    from nbtrack.utils import mlflow_tags

    assert nbtrack.tracking.MlflowClient is nbtrack.MlflowClient
    assert nbtrack.tracking.fluent is nbtrack.fluent
    assert callable(nbtrack.artifacts.load_dict)
    assert callable(nbtrack.data.from_pandas)
    assert MLFLOW_TRACKING_URI.name == "MLFLOW_TRACKING_URI"
    assert mlflow_tags.MLFLOW_RUN_NAME == "mlflow.runName"
    assert RunStatus.to_string(RunStatus.FINISHED) == "FINISHED"
    assert RunStatus.to_string(3) == "FINISHED"  # MLflow's number
    assert RunStatus.from_string("killed") is RunStatus.KILLED
    assert ViewType.ALL == 3


def test_errors_are_mlflow_exceptions_with_error_codes() -> None:
    with pytest.raises(MlflowException) as missing:
        nbtrack.get_run("0" * 32)
    assert isinstance(missing.value, NotFoundError)
    assert missing.value.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST)
    with pytest.raises(MlflowException) as bad:
        nbtrack.log_metric("loss", "high")
    assert isinstance(bad.value, InvalidInputError)
    assert bad.value.error_code == ErrorCode.Name(INVALID_PARAMETER_VALUE)
    assert "Got invalid value high for metric 'loss'" in bad.value.message
    assert MlflowException("x", error_code=INVALID_PARAMETER_VALUE).error_code == (
        "INVALID_PARAMETER_VALUE"
    )


def test_system_tags_are_set_searched_and_shown() -> None:
    with (
        nbtrack.start_run(run_name="parent") as parent,
        nbtrack.start_run(run_name="child", nested=True) as child,
    ):
        nbtrack.set_tag("mlflow.runName", "renamed-child")
    stored = nbtrack.get_run(child.info.run_id)
    assert stored.info.run_name == "renamed-child"
    tags = stored.data.tags
    assert tags["mlflow.runName"] == "renamed-child"
    assert tags["mlflow.parentRunId"] == parent.info.run_id
    # NOTEBOOK inside an IPython shell (an earlier test of this process may have left one).
    shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
    assert tags["mlflow.source.type"] == ("LOCAL" if shell is None else "NOTEBOOK")
    assert tags["mlflow.user"]
    if shell is None:  # a script's path; in a shell, the notebook's path when Jupyter gives it
        assert "mlflow.source.name" in tags

    found = nbtrack.search_runs(filter_string="tags.mlflow.runName = 'renamed-child'")
    assert found["run_id"].tolist() == [child.info.run_id]
    assert found["tags.mlflow.runName"].tolist() == ["renamed-child"]
    children = nbtrack.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'", output_format="list"
    )
    assert [r.info.run_id for r in children] == [child.info.run_id]
    by_ids = nbtrack.search_runs(
        filter_string=f"attributes.run_id IN ('{parent.info.run_id}', '{child.info.run_id}')"
        " AND attributes.status = 'FINISHED' AND attributes.start_time > 0",
        output_format="list",
    )
    assert len(by_ids) == 2
    with pytest.raises(InvalidInputError, match="unknown attribute"):
        nbtrack.search_runs(filter_string="attributes.colour = 'red'")
    with pytest.raises(InvalidInputError, match=r"parent is the tag: tags\.mlflow\.parentRunId"):
        nbtrack.search_runs(filter_string="attributes.parent_run_id = 'x'")


def test_mlflow_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NBTRACK_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'ml.db'}")
    assert nbtrack.get_tracking_uri() == f"sqlite:///{(tmp_path / 'ml.db').resolve()}"
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    with nbtrack.start_run() as run:
        pass
    assert nbtrack.get_experiment(run.info.experiment_id).name == "from-env"
    assert (tmp_path / "ml.db").exists()

    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    with nbtrack.start_run() as resumed:
        nbtrack.log_param("resumed", "yes")
    assert resumed.info.run_id == run.info.run_id
    assert nbtrack.get_run(run.info.run_id).info.status == "FINISHED"
    monkeypatch.delenv("MLFLOW_RUN_ID")

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://localhost:5000")
    with pytest.raises(InvalidInputError, match=r"scheme 'http' is not supported.*sqlite:///"):
        nbtrack.get_tracking_uri()


def test_experiment_functions() -> None:
    experiment_id = nbtrack.create_experiment(
        "exp", artifact_location="/elsewhere", tags={"team": "vision"}
    )
    experiment = nbtrack.get_experiment(experiment_id)
    assert experiment.artifact_location == "/elsewhere"
    assert experiment.tags == {"team": "vision"}
    nbtrack.set_experiment("exp")
    nbtrack.set_experiment_tag("stage", 1)
    nbtrack.set_experiment_tags({"a": "b"})
    nbtrack.delete_experiment_tag("team")
    assert nbtrack.get_experiment(experiment_id).tags == {"stage": "1", "a": "b"}
    with pytest.raises(NotFoundError):
        nbtrack.delete_experiment_tag("team")
    nbtrack.delete_experiment(experiment_id)
    assert nbtrack.get_experiment(experiment_id).lifecycle_stage == "deleted"
    nbtrack.restore_experiment(experiment_id)
    assert nbtrack.get_experiment(experiment_id).lifecycle_stage == "active"


def test_run_functions() -> None:
    with nbtrack.start_run() as parent:
        assert nbtrack.get_artifact_uri() == parent.info.artifact_uri
        assert nbtrack.get_artifact_uri("a/b.txt") == f"runs:/{parent.info.run_id}/a/b.txt"
        nbtrack.set_tag("x", "1")
        nbtrack.delete_tag("x")
        with pytest.raises(NotFoundError, match="No tag with name"):
            nbtrack.delete_tag("x")
        assert nbtrack.log_metric("m", 1.0) is None
        with nbtrack.start_run(nested=True) as child:
            pass
        assert nbtrack.last_active_run().info.run_id == parent.info.run_id
    last = nbtrack.last_active_run()
    assert last.info.run_id == parent.info.run_id
    assert last.data.metrics == {"m": 1.0}
    assert nbtrack.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id
    assert nbtrack.get_parent_run(parent.info.run_id) is None
    operation = nbtrack.log_metric("m", 2.0, run_id=parent.info.run_id, synchronous=False)
    operation.wait()
    assert nbtrack.get_run(parent.info.run_id).data.metrics["m"] == 2.0


def test_resume_keeps_tags_and_description_and_refuses_deleted_runs() -> None:
    with nbtrack.start_run(tags={"a": "1"}) as run:
        pass
    with nbtrack.start_run(run.info.run_id, tags={"b": "2"}, description="more"):
        pass
    tags = nbtrack.get_run(run.info.run_id).data.tags
    assert (tags["a"], tags["b"], tags["mlflow.note.content"]) == ("1", "2", "more")
    nbtrack.delete_run(run.info.run_id)
    with pytest.raises(InvalidInputError, match="because it is in the deleted state"):
        nbtrack.start_run(run.info.run_id)
    assert nbtrack.active_run() is None


def test_active_runs_are_per_thread() -> None:
    seen: dict[str, object] = {}

    def work() -> None:
        seen["before"] = nbtrack.active_run()
        with nbtrack.start_run() as run:
            seen["id"] = run.info.run_id
            seen["active"] = nbtrack.active_run().info.run_id

    with nbtrack.start_run() as main_run:
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        assert nbtrack.active_run().info.run_id == main_run.info.run_id
    assert seen["before"] is None
    assert seen["active"] == seen["id"] != main_run.info.run_id
    assert nbtrack.get_run(str(seen["id"])).info.status == "FINISHED"


def test_search_runs_paging_and_unknown_experiment_names() -> None:
    for _ in range(5):
        with nbtrack.start_run():
            pass
    client = nbtrack.MlflowClient()
    page = client.search_runs(["0"], max_results=2)
    ids = [r.info.run_id for r in page]
    while page.token:
        page = client.search_runs(["0"], max_results=2, page_token=page.token)
        ids += [r.info.run_id for r in page]
    assert len(ids) == len(set(ids)) == 5
    with pytest.raises(InvalidInputError, match="Invalid page token"):
        client.search_runs(["0"], page_token="garbage")  # noqa: S106 (not a password)
    assert nbtrack.search_runs(experiment_names=["nope"], output_format="list") == []
    with pytest.raises(InvalidInputError, match="Only experiment_ids or experiment_names"):
        nbtrack.search_runs(experiment_ids=["0"], experiment_names=["x"])


def test_datasets_and_log_input(tmp_path: Path) -> None:
    df = pd.DataFrame([[1, 2, 3], [1, 2, 3]], columns=["a", "b", "c"])
    dataset = nbtrack.data.from_pandas(df, source=tmp_path / "d.csv", name="train-set")
    assert dataset.digest == "f0f3e026"  # what MLflow computes for this frame
    arrays = nbtrack.data.from_numpy(np.arange(12).reshape(4, 3), targets=np.arange(4))
    with nbtrack.start_run() as run:
        nbtrack.log_input(dataset, context="train", tags={"k": "v"})
        nbtrack.log_input(arrays, context="eval")
    inputs = nbtrack.get_run(run.info.run_id).inputs.dataset_inputs
    by_name = {i.dataset.name: i for i in inputs}
    train = by_name["train-set"]
    assert (train.dataset.digest, train.dataset.source_type) == ("f0f3e026", "local")
    assert [(t.key, t.value) for t in train.tags] == [("k", "v"), ("mlflow.data.context", "train")]
    assert '"num_rows": 2' in (train.dataset.profile or "")
    assert by_name["dataset"].dataset.digest == arrays.digest
    assert not any(
        k.startswith("nbtrack.input.") for k in nbtrack.get_run(run.info.run_id).data.tags
    )


def test_images_tables_and_artifact_uris(tmp_path: Path) -> None:
    from PIL import Image

    image = np.random.default_rng(0).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    with nbtrack.start_run() as run:
        nbtrack.log_image(image, "plots/img.png")
        nbtrack.log_image(Image.new("RGB", (4, 4)), key="samples", step=3)
        nbtrack.log_table({"x": [1, 2], "y": ["a", "b"]}, "table.json")
        nbtrack.log_table(pd.DataFrame({"x": [3], "y": ["c"]}), "table.json")
        nbtrack.log_dict({"k": 1}, "cfg.json")
        nbtrack.log_text("hi", "notes.txt")
    run_id = run.info.run_id
    local = nbtrack.artifacts.download_artifacts(f"runs:/{run_id}/plots/img.png", dst_path=tmp_path)
    np.testing.assert_array_equal(np.asarray(Image.open(local)), image)
    names = [a.path for a in nbtrack.MlflowClient().list_artifacts(run_id, "images")]
    assert len(names) == 1
    assert names[0].startswith("images/samples%step%3%timestamp%")
    table = nbtrack.load_table("table.json", run_ids=[run_id], extra_columns=["run_id"])
    assert table["x"].tolist() == [1, 2, 3]
    assert set(table["run_id"]) == {run_id}
    assert nbtrack.artifacts.load_dict(f"runs:/{run_id}/cfg.json") == {"k": 1}
    assert nbtrack.artifacts.load_text(f"runs:/{run_id}/notes.txt") == "hi"
    with pytest.raises(ValueError, match="Invalid channel length"):
        nbtrack.log_image(np.zeros((2, 2, 5), dtype=np.uint8), "bad.png")


def test_registry_uri_defaults_to_the_tracking_store() -> None:
    assert nbtrack.get_registry_uri() == nbtrack.get_tracking_uri()
    nbtrack.set_registry_uri(nbtrack.get_tracking_uri())
    assert nbtrack.get_registry_uri() == nbtrack.get_tracking_uri()
    nbtrack.set_registry_uri(None)


@pytest.mark.slow
def test_import_mlflow_alias_runs_mlflow_code(tmp_path: Path) -> None:
    """The alias the compat suite installs: ``import mlflow`` and its submodules are nbtrack."""
    code = (
        "from tests.mlflow_compat import _alias\n"
        "_alias.install()\n"
        "import mlflow\n"
        "from mlflow.tracking import MlflowClient\n"
        "from mlflow.entities import ViewType\n"
        "from mlflow.exceptions import MlflowException\n"
        f"mlflow.set_tracking_uri('sqlite:///{tmp_path / 'a.db'}')\n"
        "with mlflow.start_run() as run:\n"
        "    mlflow.log_metric('m', 1.0)\n"
        "runs = MlflowClient().search_runs(['0'], run_view_type=ViewType.ALL)\n"
        "assert mlflow.__name__ == 'nbtrack' and len(runs) == 1\n"
        "try:\n"
        "    mlflow.get_run('missing')\n"
        "except MlflowException as error:\n"
        "    print(error.error_code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "RESOURCE_DOES_NOT_EXIST"
