"""``ModelVersion.version`` is an int on every path, as MLflow's Python client returns it."""

from __future__ import annotations

import json

import pytest

import nbtrack
from _models_helpers import iris_classifier
from nbtrack.exceptions import InvalidInputError
from nbtrack.registry import ModelVersion
from nbtrack.tracking import MlflowClient


def _logged() -> str:
    clf, _ = iris_classifier()
    with nbtrack.start_run():
        info = nbtrack.sklearn.log_model(clf, "model")
    return info.model_uri


def _is_int(version: ModelVersion) -> bool:
    return isinstance(version.version, int) and not isinstance(version.version, bool)


def test_version_is_an_int_through_every_path(client: nbtrack.TrackingClient) -> None:
    uri = _logged()
    created = client.create_model_version("iris", uri)
    registered = nbtrack.register_model(uri, "iris")
    assert (created.version, registered.version) == (1, 2)
    assert _is_int(created)
    assert _is_int(registered)

    by_str, by_int = client.get_model_version("iris", "1"), client.get_model_version("iris", 1)
    assert _is_int(by_str)
    assert _is_int(by_int)
    assert (by_str.version, by_str.source, by_str.files) == (
        by_int.version,
        by_int.source,
        by_int.files,
    )
    assert by_str.version == 1
    assert client.get_model_version("iris", " 2 ").version == 2

    found = client.search_model_versions("name = 'iris'")
    assert sorted(v.version for v in found) == [1, 2]
    assert all(_is_int(v) for v in found)
    assert all(_is_int(v) for v in nbtrack.search_model_versions("name = 'iris'"))

    client.transition_model_version_stage("iris", "1", "Production")
    latest = client.get_latest_versions("iris", stages=["Production", "None"])
    assert sorted((v.current_stage, v.version) for v in latest) == [("None", 2), ("Production", 1)]
    assert all(_is_int(v) for v in latest)
    model = client.get_registered_model("iris")
    assert all(_is_int(v) for v in model.latest_versions)

    client.set_registered_model_alias("iris", "champion", "2")
    by_alias = client.get_model_version_by_alias("iris", "champion")
    assert _is_int(by_alias)
    assert by_alias.version == 2
    client.set_registered_model_alias("iris", "champion", 1)
    assert client.get_model_version_by_alias("iris", "champion").version == 1
    assert by_alias.model_uri == "models:/iris/2"


def test_mlflow_client_create_model_version_returns_int_one(
    client: nbtrack.TrackingClient,
) -> None:
    uri = _logged()
    mlflow_client = MlflowClient(client.tracking_uri)
    version = mlflow_client.create_model_version("wine", uri)
    assert version.version == 1
    assert _is_int(version)
    assert mlflow_client.get_model_version("wine", "1").version == 1
    assert mlflow_client.get_model_version("wine", 1).version == 1


@pytest.mark.parametrize("bad", ["abc", "1.5", "0", "-1", ""])
def test_a_version_that_is_not_a_number_is_a_clear_error(
    client: nbtrack.TrackingClient, bad: str
) -> None:
    client.create_model_version("iris", _logged())
    with pytest.raises(InvalidInputError, match="is not a version number"):
        client.get_model_version("iris", bad)
    with pytest.raises(InvalidInputError, match="is not a version number"):
        client.set_registered_model_alias("iris", "champion", bad)


def test_version_is_a_json_number(client: nbtrack.TrackingClient) -> None:
    from dataclasses import asdict

    version = client.create_model_version("iris", _logged())
    assert json.loads(json.dumps(asdict(version)))["version"] == 1
