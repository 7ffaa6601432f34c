"""``nbtrack models ...`` through click's CliRunner, and ``%track register`` in IPython."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from IPython.core.interactiveshell import InteractiveShell

import nbtrack
from _models_helpers import iris_classifier
from nbtrack import fluent
from nbtrack.cli import main


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def fails(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture
def two_versions(client: nbtrack.TrackingClient) -> str:
    """iris versions 1 and 2 registered from one run; returns the run id."""
    clf, _ = iris_classifier()
    with nbtrack.start_run() as run:
        info = nbtrack.sklearn.log_model(clf, "model")
    client.register_model(info.model_uri, "iris")
    client.register_model(info.model_uri, "iris")
    return run.info.run_id


def test_list_and_show(two_versions: str) -> None:
    client = nbtrack.TrackingClient()
    assert "No registered models" in invoke("models", "list", "--filter", "name = 'x'")
    client.set_registered_model_alias("iris", "champion", 2)
    client.update_registered_model("iris", "Iris classifier")
    listing = invoke("models", "list")
    assert re.search(r"iris\s+2\s+champion: v2", listing)
    shown = invoke("models", "show", "iris")
    assert "Iris classifier" in shown
    assert re.search(r"2\s+None\s+champion\s+sklearn\s+" + two_versions[:8], shown)
    detail = invoke("models", "show", "iris", "--version", "1")
    sha = client.get_model_version("iris", 1).files["model.skops"]
    assert "model.skops" in detail
    assert sha[:16] in detail
    assert f"runs:/{two_versions}/model" in detail


def test_promote_and_history(two_versions: str) -> None:
    out = invoke("models", "promote", "iris", "1", "--stage", "production", "--alias", "champion")
    assert "iris v1 is now in stage Production" in out
    assert "iris@champion -> v1" in out
    invoke("models", "promote", "iris", "2", "--stage", "Production", "--archive-existing")
    client = nbtrack.TrackingClient()
    assert client.get_model_version("iris", 1).current_stage == "Archived"
    history = invoke("models", "history", "iris")
    lines = history.splitlines()
    assert lines[0].split() == ["when", "action", "version", "key", "from", "to", "who", "run"]
    assert any(re.search(r"transition_stage\s+1\s+None\s+Production", line) for line in lines)
    assert any(re.search(r"transition_stage\s+1\s+Production\s+Archived", line) for line in lines)
    assert any(re.search(r"set_alias\s+1\s+champion\s+1", line) for line in lines)
    assert two_versions[:8] in history
    assert len(invoke("models", "history", "iris", "--limit", "2").splitlines()) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "show", "nope"], "no registered model named 'nope'"),
        (["models", "promote", "iris", "1"], "nothing to do: give --stage"),
        (["models", "promote", "iris", "9", "--stage", "Staging"], "has no version 9"),
        (["models", "promote", "iris", "1", "--alias", "latest"], "is reserved"),
        (["models", "serve", "models:/iris/7"], "has no version 7"),
    ],
)
def test_errors_are_one_clear_line(two_versions: str, args: list[str], message: str) -> None:
    assert message in fails(*args)


def test_serve_refuses_a_pickled_model_without_allow_pickle(tmp_path: Path) -> None:
    clf, _ = iris_classifier()
    nbtrack.sklearn.save_model(clf, tmp_path / "p", serialization="pickle")
    assert "allow_pickle=True" in fails("models", "serve", str(tmp_path / "p"))


def test_track_register_logs_and_registers_an_in_memory_model(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    clf, X = iris_classifier()
    ip.user_ns.update(clf=clf, X=X.head(5))
    assert ip.run_cell("%track start training").success
    result = ip.run_cell("%track register clf iris --example X")
    assert result.success, result.error_in_exec
    out = capsys.readouterr().out
    assert "and registered 'iris' version 1" in out
    result = ip.run_cell("%track register clf iris  # re-running the cell: a new version")
    assert result.success, result.error_in_exec
    assert "registered 'iris' version 2" in capsys.readouterr().out
    client = nbtrack.TrackingClient()
    first, second = client.get_model_version("iris", 1), client.get_model_version("iris", 2)
    active = fluent.active_run()
    assert active is not None
    assert first.run_id == second.run_id == active.info.run_id
    assert (first.source.rsplit("/", 1)[1], second.source.rsplit("/", 1)[1]) == ("model", "model-2")
    loaded = nbtrack.pyfunc.load_model("models:/iris/1")
    assert loaded.metadata.signature is not None
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_track_register_errors_are_usage_errors(ip: InteractiveShell) -> None:
    result = ip.run_cell("%track register missing iris")
    assert not result.success
    assert "not defined: missing" in str(result.error_in_exec)
    ip.user_ns["thing"] = object()
    result = ip.run_cell("%track register thing iris")
    assert not result.success
    assert "is not a model nbtrack can log" in str(result.error_in_exec)
    ip.user_ns["clf"] = iris_classifier()[0]
    result = ip.run_cell("%track register clf bad/name")
    assert not result.success
    assert "model name 'bad/name' contains '/'" in str(result.error_in_exec)
