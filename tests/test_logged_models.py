"""MLflow 3's logged models: ModelInfo.model_id, get_logged_model, models:/<model_id>,
metrics linked to a model, standalone models with their own files, the active model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbtrack
from _models_helpers import iris_classifier
from nbtrack import _active_model
from nbtrack.entities import ArtifactInfo, LoggedModelStatus
from nbtrack.exceptions import InvalidInputError, NotFoundError


def test_log_model_gives_a_logged_model_with_params_and_linked_metrics() -> None:
    clf, X = iris_classifier()
    frame = pd.DataFrame(X[:20], columns=["a", "b", "c", "d"])
    dataset = nbtrack.data.from_pandas(frame, name="train")
    with nbtrack.start_run() as run:
        info = nbtrack.sklearn.log_model(clf, "clf", params={"C": 1.0})
        assert info.model_id is not None
        assert info.model_id.startswith("m-")
        assert len(info.model_id) == 34
        nbtrack.log_metrics({"acc": 0.9, "f1": 0.8}, model_id=info.model_id, dataset=dataset)
        nbtrack.log_metric("loss", 0.5, step=3, model_id=info.model_id)
        nbtrack.log_metric("unlinked", 1.0)
    model = nbtrack.get_logged_model(info.model_id)
    assert (model.name, model.source_run_id, model.status) == ("clf", run.info.run_id, "READY")
    assert model.experiment_id == run.info.experiment_id
    assert model.params == {"C": "1.0"}
    assert model.model_type == "sklearn"
    assert model.model_uri == f"models:/{info.model_id}"
    linked = {m.key: m for m in model.metrics}
    assert set(linked) == {"acc", "f1", "loss"}
    assert (linked["acc"].value, linked["acc"].dataset_name) == (0.9, "train")
    assert linked["acc"].dataset_digest == dataset.digest
    assert (linked["loss"].step, linked["loss"].run_id) == (3, run.info.run_id)
    assert model.to_dictionary()["metrics"][0]["model_id"] == info.model_id
    # The run's own metrics are logged as before.
    assert set(nbtrack.get_run(run.info.run_id).data.metrics) == {"acc", "f1", "loss", "unlinked"}


def test_models_uri_of_a_model_id_loads_and_registers() -> None:
    clf, X = iris_classifier()
    with nbtrack.start_run():
        info = nbtrack.sklearn.log_model(clf, "clf")
    uri = f"models:/{info.model_id}"
    np.testing.assert_array_equal(nbtrack.sklearn.load_model(uri).predict(X), clf.predict(X))
    np.testing.assert_array_equal(nbtrack.pyfunc.load_model(uri).predict(X), clf.predict(X))
    version = nbtrack.register_model(uri, "iris")
    assert version.version == 1
    assert version.run_id == info.run_id
    with pytest.raises(NotFoundError, match=r"Logged model with ID 'm-0{32}' not found"):
        nbtrack.pyfunc.load_model(f"models:/m-{'0' * 32}")


def test_metrics_for_an_unknown_model_id_are_refused() -> None:
    with nbtrack.start_run(), pytest.raises(NotFoundError, match="Logged model with ID"):
        nbtrack.log_metric("acc", 1.0, model_id=f"m-{'1' * 32}")


def test_standalone_model_files_tags_status_and_trash(tmp_path: Path) -> None:
    client = nbtrack.MlflowClient()
    experiment_id = client.create_experiment("models")
    model = client.create_logged_model(experiment_id, name="m", params={"k": 3}, tags={"t": "x"})
    assert (model.status, model.params, model.tags) == ("PENDING", {"k": "3"}, {"t": "x"})
    folder = tmp_path / "files"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("bb")
    client.log_model_artifacts(model.model_id, folder)
    client.log_model_artifact(model.model_id, folder / "a.txt")
    listing = client.list_logged_model_artifacts(model.model_id)
    assert listing == [ArtifactInfo("a.txt", False, 1), ArtifactInfo("sub", True, None)]
    assert client.list_logged_model_artifacts(model.model_id, "sub") == [
        ArtifactInfo("sub/b.txt", False, 2)
    ]
    client.set_logged_model_tags(model.model_id, {"t": "y", "u": 1})
    client.delete_logged_model_tag(model.model_id, "u")
    client.log_model_params(model.model_id, {"extra": "1"})
    ready = client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert (ready.status, ready.tags, ready.params) == (
        "READY",
        {"t": "y"},
        {"k": "3", "extra": "1"},
    )
    assert [m.model_id for m in client.search_logged_models([experiment_id])] == [model.model_id]
    other = client.create_logged_model(experiment_id, name="other")
    page = client.search_logged_models([experiment_id], max_results=1)
    assert ([m.model_id for m in page], page.token is not None) == ([other.model_id], True)
    rest = client.search_logged_models([experiment_id], max_results=1, page_token=page.token)
    assert ([m.model_id for m in rest], rest.token) == ([model.model_id], None)
    client.delete_logged_model(other.model_id)
    with pytest.raises(InvalidInputError, match="unknown logged model status 'DONE'"):
        client.finalize_logged_model(model.model_id, "DONE")
    # Garbage collection keeps a standalone model's files; verification knows who uses them.
    assert client.garbage_collect(grace_seconds=0)["blobs"] == 0
    report = client.verify_artifacts()
    assert not report.problems
    client.delete_logged_model(model.model_id)
    with pytest.raises(NotFoundError, match="not found"):
        client.get_logged_model(model.model_id)
    assert client.search_logged_models([experiment_id]) == []


def test_model_id_must_be_a_non_empty_string() -> None:
    client = nbtrack.MlflowClient()
    for call in (client.get_logged_model, client.delete_logged_model):
        with pytest.raises(InvalidInputError, match="`model_id` must be a non-empty string"):
            call("")


def test_active_model_links_client_and_fluent_metrics() -> None:
    external = nbtrack.create_external_model(name="agent")
    assert external.status == "READY"
    assert external.model_type == "external"
    active = nbtrack.set_active_model(name="agent")
    assert active.model_id == external.model_id == nbtrack.get_active_model_id()
    client = nbtrack.MlflowClient()
    with nbtrack.start_run() as run:
        client.log_metric(run.info.run_id, "m1", 1.0)
        client.log_batch(run.info.run_id, [("m2", 2.0, None, 5)])
        nbtrack.log_metric("m3", 3.0)
    linked = {m.key: (m.value, m.step) for m in nbtrack.get_logged_model(external.model_id).metrics}
    assert linked == {"m1": (1.0, 0), "m2": (2.0, 5), "m3": (3.0, 0)}
    # A name not yet used creates the model; an active model of another store links nothing.
    created = nbtrack.set_active_model(name="new")
    assert created.model_id != external.model_id
    _active_model.set_id(f"m-{'2' * 32}")
    with nbtrack.start_run():
        nbtrack.log_metric("x", 1.0)
    with pytest.raises(InvalidInputError, match="needs name= or model_id="):
        nbtrack.set_active_model()


def test_last_logged_model_search_and_clearing_the_active_model() -> None:
    assert nbtrack.last_logged_model() is None
    clf, _ = iris_classifier()
    with nbtrack.start_run():
        first = nbtrack.sklearn.log_model(clf, "first")
        second = nbtrack.sklearn.log_model(clf, "second")
    last = nbtrack.last_logged_model()
    assert last is not None
    assert last.model_id == second.model_id
    frame = nbtrack.search_logged_models()
    assert list(frame["name"]) == ["second", "first"]
    assert list(frame["model_id"]) == [second.model_id, first.model_id]
    listed = nbtrack.search_logged_models(max_results=1, output_format="list")
    assert [m.model_id for m in listed] == [second.model_id]
    with pytest.raises(InvalidInputError, match="does not filter yet"):
        nbtrack.search_logged_models(filter_string="name = 'first'")
    nbtrack.set_active_model(model_id=first.model_id)
    nbtrack.clear_active_model()
    assert nbtrack.get_active_model_id() is None
