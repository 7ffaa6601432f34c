"""Models with their files in a bucket (moto's S3 on 127.0.0.1): log, register, load, serve, gc.

``runs:/`` and ``models:/`` URIs load from the bucket (``NBTRACK_ARTIFACT_ROOT``
or an experiment's ``artifact_location``), a changed or missing object is
refused, ``nbtrack models serve`` (another process) finds the bucket through
the environment it inherits, and ``gc`` keeps a registered version's objects
after its run is purged and removes them once the version is deleted.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("s3fs")

import nbtrack
from _models_helpers import iris_classifier
from _s3_helpers import Backend, s3_backend
from nbtrack.models import ModelIntegrityError


@pytest.fixture
def iris() -> tuple[Any, pd.DataFrame]:
    """A fitted classifier and its features."""
    return iris_classifier()


def _nothing_local(store_dir: Path) -> None:
    local = store_dir / "artifacts"
    assert not local.exists() or not [p for p in local.rglob("*") if p.is_file()]


def _model_blobs(client: nbtrack.TrackingClient, run_id: str) -> dict[str, str]:
    """The model's files of a run: path -> sha256."""
    found = {}
    pending = ["model"]
    while pending:
        for item in client.list_artifacts(run_id, pending.pop()):
            if item.is_dir:
                pending.append(item.path)
            else:
                assert item.sha256 is not None
                found[item.path] = item.sha256
    return found


def test_models_load_from_the_bucket_by_every_uri(
    s3_root: Backend, store_dir: Path, iris: tuple[Any, pd.DataFrame]
) -> None:
    clf, X = iris
    with nbtrack.start_run() as run:
        nbtrack.sklearn.log_model(clf, "model", input_example=X[:3], registered_model_name="iris")
    client = nbtrack.TrackingClient()
    client.set_registered_model_alias("iris", "champion", 1)
    nbtrack.flush()
    files = _model_blobs(client, run.info.run_id)
    assert "model/MLmodel" in files
    assert set(files.values()) <= set(s3_root.blobs())
    _nothing_local(store_dir)

    expected = clf.predict(X)
    flavor = nbtrack.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(flavor.predict(X), expected)
    for uri in (f"runs:/{run.info.run_id}/model", "models:/iris/1", "models:/iris@champion"):
        model = nbtrack.pyfunc.load_model(uri)
        np.testing.assert_array_equal(model.predict(X), expected)


def test_a_model_registered_from_a_directory_is_copied_to_the_bucket(
    s3_root: Backend, store_dir: Path, tmp_path: Path, iris: tuple[Any, pd.DataFrame]
) -> None:
    clf, X = iris
    nbtrack.sklearn.save_model(clf, tmp_path / "saved")
    version = nbtrack.register_model(str(tmp_path / "saved"), "from-disk")
    on_disk = {
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (tmp_path / "saved").rglob("*")
        if p.is_file()
    }
    assert on_disk <= set(s3_root.blobs())
    _nothing_local(store_dir)
    loaded = nbtrack.pyfunc.load_model(f"models:/from-disk/{version.version}")
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_a_changed_or_missing_object_is_refused(
    s3_root: Backend, iris: tuple[Any, pd.DataFrame]
) -> None:
    clf, _ = iris
    with nbtrack.start_run():
        info = nbtrack.sklearn.log_model(clf, "model")
    nbtrack.flush()
    files = _model_blobs(nbtrack.TrackingClient(), info.run_id)
    sha = next(s for p, s in files.items() if p.endswith(".skops"))
    content = s3_root.blobs()[sha]
    s3_root.overwrite(sha, content[:-1] + bytes([content[-1] ^ 1]))
    with pytest.raises(ModelIntegrityError, match=r"'model\.skops' was changed on disk"):
        nbtrack.pyfunc.load_model(info.model_uri)
    s3_root.remove(sha)
    with pytest.raises(ModelIntegrityError, match=f"is missing from {s3_root.root}"):
        nbtrack.pyfunc.load_model(info.model_uri)


def test_gc_keeps_a_versions_objects_until_the_version_goes(
    s3_root: Backend, iris: tuple[Any, pd.DataFrame]
) -> None:
    clf, X = iris
    with nbtrack.start_run() as run:
        nbtrack.sklearn.log_model(clf, "model", registered_model_name="kept")
        nbtrack.log_text("only the run's", "notes.txt")
    client = nbtrack.TrackingClient()
    nbtrack.flush()
    model_files = set(_model_blobs(client, run.info.run_id).values())
    notes = hashlib.sha256(b"only the run's").hexdigest()
    assert set(s3_root.blobs()) == model_files | {notes}

    client.delete_run(run.info.run_id)
    assert client.garbage_collect(grace_seconds=0) == {
        "runs": 1,
        "blobs": 1,
        "bytes": len(b"only the run's"),
    }
    assert set(s3_root.blobs()) == model_files  # the version still uses them
    loaded = nbtrack.pyfunc.load_model("models:/kept/1")
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))

    client.delete_model_version("kept", 1)
    preview = client.garbage_collect(grace_seconds=0, dry_run=True)
    assert preview["blobs"] == len(model_files)
    assert set(s3_root.blobs()) == model_files
    assert client.garbage_collect(grace_seconds=0)["blobs"] == len(model_files)
    assert s3_root.blobs() == {}


def test_a_model_in_an_experiment_bucket_beside_a_local_root(
    moto_s3: str, s3_bucket: str, store_dir: Path, iris: tuple[Any, pd.DataFrame]
) -> None:
    clf, X = iris
    remote = s3_backend(moto_s3, s3_bucket, "models")
    client = nbtrack.TrackingClient()
    exp = client.create_experiment("shared", artifact_location=remote.root)
    with nbtrack.start_run(experiment_id=exp) as run:
        nbtrack.sklearn.log_model(clf, "model", registered_model_name="shared-iris")
    nbtrack.flush()
    assert set(_model_blobs(client, run.info.run_id).values()) == set(remote.blobs())
    _nothing_local(store_dir)
    for uri in (f"runs:/{run.info.run_id}/model", "models:/shared-iris/1"):
        np.testing.assert_array_equal(nbtrack.pyfunc.load_model(uri).predict(X), clf.predict(X))


@pytest.mark.slow
def test_the_scoring_server_serves_a_model_from_the_bucket(
    s3_root: Backend, store_dir: Path, tmp_path: Path, iris: tuple[Any, pd.DataFrame]
) -> None:
    pytest.importorskip("uvicorn", reason="serving comes with the models extra")
    from _serving_helpers import start_server, stop_server

    clf, X = iris
    with nbtrack.start_run() as run:
        nbtrack.sklearn.log_model(clf, "model", input_example=X[:5], registered_model_name="iris")
    nbtrack.TrackingClient().set_registered_model_alias("iris", "champion", 1)
    nbtrack.flush()
    _nothing_local(store_dir)
    rows = X.head(7)
    # Another process: the store, the bucket and moto's endpoint reach it through
    # the environment it inherits (NBTRACK_*, AWS_ENDPOINT_URL, dummy keys).
    for uri in ("models:/iris@champion", f"runs:/{run.info.run_id}/model"):
        running = start_server(
            ["--tracking-uri", str(store_dir), "models", "serve", uri], tmp_path, {}
        )
        try:
            status, body = running.invoke({"inputs": rows.to_numpy().tolist()})
            assert status == 200, body
            assert body["predictions"] == clf.predict(rows).tolist()
        finally:
            stop_server(running)
