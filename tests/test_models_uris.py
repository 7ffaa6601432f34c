"""log_model into runs, and loading by runs:/, models:/ (version, alias, stage), path, file://."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nbtrack
from _models_helpers import iris_classifier
from nbtrack.exceptions import InvalidInputError, NotFoundError
from nbtrack.models import ModelIntegrityError


def test_log_model_stores_the_directory_as_run_artifacts() -> None:
    clf, X = iris_classifier()
    with nbtrack.start_run() as run:
        info = nbtrack.sklearn.log_model(clf, "classifier", input_example=X[:5])
    run_id = run.info.run_id
    assert info.model_uri == f"runs:/{run_id}/classifier"
    assert (info.run_id, info.artifact_path, info.flavor) == (run_id, "classifier", "sklearn")
    paths = {a.path for a in nbtrack.TrackingClient().list_artifacts(run_id, "classifier")}
    assert {"classifier/MLmodel", "classifier/model.skops", "classifier/requirements.txt"} <= paths
    loaded = nbtrack.pyfunc.load_model(info.model_uri)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.metadata.run_id == run_id
    assert loaded.metadata.artifact_path == "classifier"
    assert loaded.metadata.source == info.model_uri


def test_log_model_starts_a_run_and_refuses_a_taken_name() -> None:
    clf, _ = iris_classifier()
    info = nbtrack.sklearn.log_model(clf, "model")
    active = nbtrack.active_run()
    assert active is not None
    assert active.info.run_id == info.run_id
    with pytest.raises(InvalidInputError, match="already has artifacts at 'model'"):
        nbtrack.sklearn.log_model(clf, "model")
    with pytest.raises(InvalidInputError, match=r"contains '\.\.'"):
        nbtrack.sklearn.log_model(clf, "../escape")


def test_registry_uris_resolve_versions_aliases_and_stages() -> None:
    clf, X = iris_classifier()
    client = nbtrack.TrackingClient()
    with nbtrack.start_run():
        first = nbtrack.sklearn.log_model(clf, "a", registered_model_name="iris")
        other = clf.__class__(max_iter=500, C=0.01).fit(X, clf.predict(X))
        second = nbtrack.sklearn.log_model(other, "b", registered_model_name="iris")
    assert first.registered_model_version is not None
    assert second.registered_model_version is not None
    assert (first.registered_model_version.version, second.registered_model_version.version) == (
        1,
        2,
    )
    client.set_registered_model_alias("iris", "champion", 1)
    client.transition_model_version_stage("iris", 2, "Staging")

    def source(uri: str) -> str | None:
        return nbtrack.pyfunc.load_model(uri).metadata.artifact_path

    assert source("models:/iris/1") == "a"
    assert source("models:/iris/2") == "b"
    assert source("models:/iris@champion") == "a"
    assert source("models:/iris/staging") == "b"
    assert source("models:/iris/latest") == "b"
    np.testing.assert_array_equal(
        nbtrack.pyfunc.load_model("models:/iris@champion").predict(X), clf.predict(X)
    )
    with pytest.raises(NotFoundError, match="no version in stage 'Production'"):
        nbtrack.pyfunc.load_model("models:/iris/Production")
    with pytest.raises(NotFoundError, match=r"no alias 'nope' \(its aliases: 'champion'\)"):
        nbtrack.pyfunc.load_model("models:/iris@nope")
    with pytest.raises(NotFoundError, match=r"has no version 9 \(its versions are 1 to 2"):
        nbtrack.pyfunc.load_model("models:/iris/9")
    with pytest.raises(NotFoundError, match=r"no registered model named 'irs' \(known: 'iris'"):
        nbtrack.pyfunc.load_model("models:/irs/1")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("runs:/not-a-run/model", "is not a run id"),
        ("models:/iris", "names no version"),
        ("models:/iris/Prod", "unknown stage 'Prod'"),
        ("s3://bucket/model", "is not supported; use runs:/"),
    ],
)
def test_bad_uris_say_what_is_expected(uri: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        nbtrack.pyfunc.load_model(uri)


def test_runs_uri_without_a_model_and_plain_paths(tmp_path: Path) -> None:
    clf, X = iris_classifier()
    with nbtrack.start_run() as run:
        nbtrack.log_text("hello", "notes.txt")
    with pytest.raises(NotFoundError, match="has no model at 'model'"):
        nbtrack.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    nbtrack.sklearn.save_model(clf, tmp_path / "my model")
    by_uri = nbtrack.pyfunc.load_model((tmp_path / "my model").as_uri())
    np.testing.assert_array_equal(by_uri.predict(X), clf.predict(X))


def test_a_stored_blob_changed_on_disk_is_refused(store_dir: Path) -> None:
    clf, _ = iris_classifier()
    with nbtrack.start_run():
        info = nbtrack.sklearn.log_model(clf, "model")
    client = nbtrack.TrackingClient()
    sha = next(
        a.sha256 for a in client.list_artifacts(info.run_id, "model") if a.path.endswith(".skops")
    )
    assert sha is not None
    blob = client._store.blobs.path_of(sha)
    blob.write_bytes(blob.read_bytes()[:-1])
    with pytest.raises(ModelIntegrityError, match=r"'model\.skops' was changed on disk"):
        nbtrack.pyfunc.load_model(info.model_uri)
    blob.unlink()
    with pytest.raises(ModelIntegrityError, match="is missing from"):
        nbtrack.pyfunc.load_model(info.model_uri)


def test_loaded_models_clean_up_their_temporary_copy() -> None:
    import gc

    clf, _ = iris_classifier()
    with nbtrack.start_run():
        info = nbtrack.sklearn.log_model(clf, "model")
    model = nbtrack.pyfunc.load_model(info.model_uri)
    directory = model.metadata.path
    assert directory is not None
    assert directory.is_dir()
    del model
    gc.collect()
    assert not directory.exists()
