"""The registry through TrackingClient (MLflow's method names) and nbtrack's module functions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nbtrack
from _models_helpers import iris_classifier
from nbtrack.exceptions import InvalidInputError, NotFoundError
from nbtrack.models import ModelFormatError, ModelIntegrityError


def _logged(name: str = "model") -> tuple[str, str]:
    """(model_uri, run_id) of an iris classifier logged to a new finished run."""
    clf, _ = iris_classifier()
    with nbtrack.start_run() as run:
        info = nbtrack.sklearn.log_model(clf, name)
    return info.model_uri, run.info.run_id


def test_register_creates_the_model_and_consecutive_versions(
    client: nbtrack.TrackingClient,
) -> None:
    uri, run_id = _logged()
    first = nbtrack.register_model(uri, "iris", tags={"source": "notebook"})
    second = client.register_model(uri, "iris")
    assert (first.version, second.version) == (1, 2)
    assert first.run_id == run_id
    assert first.source == uri
    assert first.flavor == "sklearn"
    assert first.current_stage == "None"
    assert first.tags == {"source": "notebook"}
    assert first.model_uri == "models:/iris/1"
    stored = {
        a.path.removeprefix("model/"): a.sha256 for a in client.list_artifacts(run_id, "model")
    }
    assert first.files == stored  # the version records every file's sha256
    model = client.get_registered_model("iris")
    assert [v.version for v in model.latest_versions] == [2]
    with pytest.raises(InvalidInputError, match="already exists"):
        client.create_registered_model("iris")


def test_descriptions_with_nul_are_refused(client: nbtrack.TrackingClient) -> None:
    # PostgreSQL text cannot hold NUL: refused at the call on every backend.
    with pytest.raises(InvalidInputError, match=r"description contains a NUL character"):
        client.create_registered_model("iris", description="a\x00b")
    client.create_registered_model("iris", description="fine")
    with pytest.raises(InvalidInputError, match=r"description contains a NUL character"):
        client.update_registered_model("iris", description="\x00")
    assert client.get_registered_model("iris").description == "fine"
    uri, _ = _logged()
    version = client.register_model(uri, "iris")
    with pytest.raises(InvalidInputError, match=r"description contains a NUL character"):
        client.update_model_version("iris", version.version, description="x\x00")


def test_a_version_outlives_its_run(client: nbtrack.TrackingClient) -> None:
    uri, run_id = _logged()
    client.register_model(uri, "iris")
    clf, X = iris_classifier()
    client.delete_run(run_id)
    stats = client.garbage_collect(grace_seconds=0)
    assert stats["runs"] == 1
    with pytest.raises(NotFoundError):
        client.get_run(run_id)
    loaded = nbtrack.pyfunc.load_model("models:/iris/1")
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    # Once the version is deleted too, nothing refers to the blobs any more.
    client.delete_model_version("iris", 1)
    assert client.garbage_collect(grace_seconds=0)["blobs"] >= 1


def test_register_from_a_directory_and_from_another_version(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    clf, X = iris_classifier()
    nbtrack.sklearn.save_model(clf, tmp_path / "m")
    version = client.create_model_version("iris", str(tmp_path / "m"), description="from disk")
    assert (version.version, version.run_id, version.description) == (1, None, "from disk")
    (tmp_path / "m" / "model.skops").unlink()  # the version has its own copy
    copy = client.register_model("models:/iris/1", "iris-copy")
    assert copy.files == version.files
    np.testing.assert_array_equal(
        nbtrack.pyfunc.load_model("models:/iris-copy/1").predict(X), clf.predict(X)
    )


def test_register_refuses_what_is_not_an_intact_model(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    with nbtrack.start_run() as run:
        nbtrack.log_text("not a model", "notes/readme.txt")
    with pytest.raises(ModelFormatError, match="is not a model: it has no MLmodel"):
        client.register_model(f"runs:/{run.info.run_id}/notes", "notes")
    uri, run_id = _logged()
    client.log_bytes(run_id, b"swapped weights", "model/model.skops")
    with pytest.raises(ModelIntegrityError, match="differs from the sha256 its MLmodel records"):
        client.register_model(uri, "iris")
    assert client.search_registered_models() == []  # nothing half-registered
    for bad in ("", "a/b", "a@b", "models:x", " padded"):
        with pytest.raises(InvalidInputError, match="model name"):
            client.register_model(uri, bad)


def test_aliases_point_at_versions(client: nbtrack.TrackingClient) -> None:
    uri, _ = _logged()
    for _ in range(3):
        client.register_model(uri, "iris")
    client.set_registered_model_alias("iris", "champion", 2)
    client.set_registered_model_alias("iris", "challenger", "3")
    assert client.get_model_version_by_alias("iris", "champion").version == 2
    assert client.get_model_version("iris", 2).aliases == ["champion"]
    assert client.get_registered_model("iris").aliases == {"challenger": "3", "champion": "2"}
    client.set_registered_model_alias("iris", "champion", 3)  # moves
    assert client.get_model_version("iris", 3).aliases == ["challenger", "champion"]
    client.delete_registered_model_alias("iris", "challenger")
    assert client.get_registered_model("iris").aliases == {"champion": "3"}
    with pytest.raises(NotFoundError, match="no alias 'challenger'"):
        client.get_model_version_by_alias("iris", "challenger")
    for reserved in ("latest", "v2", "bad alias", ""):
        with pytest.raises(InvalidInputError, match="alias"):
            client.set_registered_model_alias("iris", reserved, 1)
    with pytest.raises(NotFoundError, match="no version 7"):
        client.set_registered_model_alias("iris", "x", 7)


def test_stages_and_archiving(client: nbtrack.TrackingClient) -> None:
    uri, _ = _logged()
    for _ in range(3):
        client.register_model(uri, "iris")
    client.transition_model_version_stage("iris", 1, "Production")
    client.transition_model_version_stage("iris", 2, "staging")
    moved = client.transition_model_version_stage(
        "iris", 3, "Production", archive_existing_versions=True
    )
    assert moved.current_stage == "Production"
    stages = {v.version: v.current_stage for v in client.search_model_versions("name = 'iris'")}
    assert stages == {1: "Archived", 2: "Staging", 3: "Production"}
    latest = client.get_latest_versions("iris", stages=["Production", "Staging"])
    assert sorted((v.current_stage, v.version) for v in latest) == [
        ("Production", 3),
        ("Staging", 2),
    ]
    with pytest.raises(InvalidInputError, match="unknown stage 'Live'; use one of None"):
        client.transition_model_version_stage("iris", 1, "Live")


def test_tags_and_descriptions(client: nbtrack.TrackingClient) -> None:
    uri, _ = _logged()
    client.register_model(uri, "iris")
    client.set_registered_model_tag("iris", "team", "vision")
    client.set_model_version_tag("iris", 1, "validated", True)
    client.update_registered_model("iris", "Classifies iris flowers")
    client.update_model_version("iris", 1, "baseline")
    model = client.get_registered_model("iris")
    assert (model.tags, model.description) == ({"team": "vision"}, "Classifies iris flowers")
    version = client.get_model_version("iris", "1")
    assert (version.tags, version.description) == ({"validated": "True"}, "baseline")
    client.delete_registered_model_tag("iris", "team")
    client.delete_model_version_tag("iris", 1, "validated")
    assert client.get_registered_model("iris").tags == {}
    assert client.get_model_version("iris", 1).tags == {}
    with pytest.raises(NotFoundError, match="has no tag 'team'"):
        client.delete_registered_model_tag("iris", "team")
    with pytest.raises(InvalidInputError, match="not a version number"):
        client.get_model_version("iris", "one")


def test_every_change_is_audited(
    client: nbtrack.TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBTRACK_USER", "ana")
    uri, run_id = _logged()
    client.register_model(uri, "iris")
    client.register_model(uri, "iris")
    client.set_registered_model_alias("iris", "champion", 1)
    client.set_registered_model_alias("iris", "champion", 2)
    client.transition_model_version_stage("iris", 2, "Production")
    client.set_model_version_tag("iris", 2, "ok", "yes")
    client.update_model_version("iris", 2, "better")
    client.delete_registered_model_alias("iris", "champion")
    client.delete_model_version("iris", 1)
    history = client.get_registry_history("iris")
    summary = [(e.action, e.version, e.key, e.from_value, e.to_value) for e in history]
    assert summary == [
        ("create_model", None, None, None, None),
        ("create_version", "1", None, None, uri),
        ("create_version", "2", None, None, uri),
        ("set_alias", "1", "champion", None, "1"),
        ("set_alias", "2", "champion", "1", "2"),
        ("transition_stage", "2", None, "None", "Production"),
        ("set_tag", "2", "ok", None, "yes"),
        ("set_description", "2", None, None, "better"),
        ("delete_alias", "2", "champion", "2", None),
        ("delete_version", "1", None, "None", None),
    ]
    assert {e.user_id for e in history} == {"ana"}
    assert all(e.host for e in history)
    assert {e.run_id for e in history if e.version} == {run_id}
    timestamps = [e.timestamp for e in history]
    assert timestamps == sorted(timestamps)
    client.delete_registered_model("iris")
    with pytest.raises(NotFoundError):
        client.get_registered_model("iris")
    last = client.get_registry_history("iris")[-1]
    assert (last.action, last.from_value) == ("delete_model", "1 version(s)")
    assert len(client.get_registry_history(max_results=3)) == 3


def test_nbtrack_module_functions(client: nbtrack.TrackingClient) -> None:
    uri, _ = _logged()
    nbtrack.register_model(uri, "iris")
    nbtrack.register_model(uri, "wine")
    assert [m.name for m in nbtrack.search_registered_models()] == ["iris", "wine"]
    assert [v.name for v in nbtrack.search_model_versions("name = 'wine'")] == ["wine"]
    assert nbtrack.MlflowClient is nbtrack.TrackingClient
