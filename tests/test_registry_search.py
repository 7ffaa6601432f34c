"""The registry's filter grammar on real registered models and versions."""

from __future__ import annotations

import re

import pytest

import nbtrack
from _models_helpers import iris_classifier
from nbtrack.exceptions import FilterSyntaxError, InvalidInputError


@pytest.fixture
def registry(client: nbtrack.TrackingClient) -> dict[str, str]:
    """iris (3 versions), iris-v2 (1), wine (2) with tags and stages; returns run ids by model."""
    clf, _ = iris_classifier()
    runs = {}
    for name, count in (("iris", 3), ("iris-v2", 1), ("wine", 2)):
        with nbtrack.start_run() as run:
            info = nbtrack.sklearn.log_model(clf, "model")
        runs[name] = run.info.run_id
        for _ in range(count):
            client.register_model(info.model_uri, name)
    client.set_registered_model_tag("iris", "team", "vision")
    client.set_registered_model_tag("wine", "team", "tabular")
    client.set_model_version_tag("iris", 2, "validated", "yes")
    client.set_model_version_tag("wine", 1, "validated", "no")
    client.transition_model_version_stage("iris", 3, "Production")
    return runs


def _versions(client: nbtrack.TrackingClient, filter_string: str) -> list[str]:
    found = client.search_model_versions(filter_string)
    return sorted(f"{v.name}/{v.version}" for v in found)


def _models(client: nbtrack.TrackingClient, filter_string: str) -> list[str]:
    return [m.name for m in client.search_registered_models(filter_string)]


def test_model_search(client: nbtrack.TrackingClient, registry: dict[str, str]) -> None:
    assert _models(client, "") == ["iris", "iris-v2", "wine"]
    assert _models(client, "name = 'iris'") == ["iris"]
    assert _models(client, "name LIKE 'iris%'") == ["iris", "iris-v2"]
    assert _models(client, "name ILIKE 'IRIS%'") == ["iris", "iris-v2"]
    assert _models(client, "name LIKE 'IRIS%'") == []  # LIKE is case-sensitive
    assert _models(client, "tags.team = 'vision'") == ["iris"]
    assert _models(client, "tags.team != 'vision'") == ["wine"]
    assert _models(client, "tags.team IS NULL") == ["iris-v2"]
    assert _models(client, "name IN ('wine', 'iris-v2')") == ["iris-v2", "wine"]
    assert _models(client, "creation_timestamp > 0 and name != 'iris'") == ["iris-v2", "wine"]
    ordered = client.search_registered_models(order_by=["name DESC"], max_results=2)
    assert [m.name for m in ordered] == ["wine", "iris-v2"]


def test_version_search(client: nbtrack.TrackingClient, registry: dict[str, str]) -> None:
    assert _versions(client, "name = 'iris'") == ["iris/1", "iris/2", "iris/3"]
    assert _versions(client, "name = 'iris' and version_number >= 2") == ["iris/2", "iris/3"]
    assert _versions(client, f"run_id = '{registry['wine']}'") == ["wine/1", "wine/2"]
    both = f"run_id IN ('{registry['wine']}', '{registry['iris-v2']}')"
    assert _versions(client, both) == ["iris-v2/1", "wine/1", "wine/2"]
    assert _versions(client, "tags.validated = 'yes'") == ["iris/2"]
    assert _versions(client, "tags.validated LIKE '%'") == ["iris/2", "wine/1"]
    assert _versions(client, "current_stage = 'Production'") == ["iris/3"]
    assert _versions(
        client, "(name = 'wine' and version_number = 2) or tags.validated = 'yes'"
    ) == [
        "iris/2",
        "wine/2",
    ]
    assert _versions(client, "source_path LIKE 'runs:/%'") == _versions(client, "")
    newest = client.search_model_versions(max_results=1)
    assert (newest[0].name, newest[0].version) == ("wine", 2)
    by_number = client.search_model_versions("name = 'iris'", order_by=["version_number DESC"])
    assert [v.version for v in by_number] == [3, 2, 1]


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("name = iris", "name is a string: write name = 'value'"),
        ("version_number > 'two'", "version_number is a number"),
        ("colour = 'red'", "expected an attribute of model versions"),
        ("name < 'a'", "< is not allowed on name"),
        ("name = 'a' and", "expected an attribute"),
        ("(name = 'a'", "expected ')' to close this '('"),
        ("name = 'a' name = 'b'", "expected AND, OR or end of filter"),
        ("run_id IN 'x'", "expected '(' after IN"),
        ("tags.x IN ('a')", "IN is not allowed on tags.x"),
    ],
)
def test_bad_filters_point_at_the_problem(
    client: nbtrack.TrackingClient, filter_string: str, message: str
) -> None:
    with pytest.raises(FilterSyntaxError, match=re.escape(message)) as caught:
        client.search_model_versions(filter_string)
    assert "^" in str(caught.value)  # the position is shown under the filter


def test_bad_order_by(client: nbtrack.TrackingClient) -> None:
    with pytest.raises(InvalidInputError, match="cannot order registered models by 'size'"):
        client.search_registered_models(order_by=["size"])
    with pytest.raises(InvalidInputError, match="cannot order model versions by 'name UP'"):
        client.search_model_versions(order_by=["name UP"])
