"""Autolog in IPython's shell: provenance of autologged values, re-run rules, settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skops")

import nbtrack
from nbtrack.autologging import _core


@pytest.fixture
def shell(ip: Any) -> Iterator[Any]:
    yield ip
    nbtrack.autolog(disable=True)
    _core._reported.clear()


def _run(shell: Any, code: str) -> None:
    result = shell.run_cell(code, store_history=True)
    assert result.success, result.error_in_exec or result.error_before_exec


SETUP = """
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True)
"""


def test_track_start_autolog_gives_values_cell_provenance(
    shell: Any, client: nbtrack.TrackingClient
) -> None:
    _run(shell, "%track start --autolog")
    run = nbtrack.active_run()
    assert run is not None
    _run(shell, SETUP)
    _run(shell, "clf = LogisticRegression(C=1.0, max_iter=300).fit(X, y)")
    run_id = run.info.run_id
    (prov,) = client.get_metric_provenance(run_id, "training_score")
    assert "LogisticRegression(C=1.0" in prov.cell.source
    cells = client.get_value_cells(run_id)
    fit_seq = prov.cell.seq
    assert cells["params"]["C"] == fit_seq
    assert nbtrack.active_run() is run  # logged into the notebook's run, which goes on


def test_rerunning_the_fit_cell_with_a_new_setting_starts_a_new_run(
    shell: Any, client: nbtrack.TrackingClient, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(shell, "%track start tuning --autolog")
    first = nbtrack.active_run()
    assert first is not None
    _run(shell, SETUP)
    _run(shell, "clf = LogisticRegression(C=1.0, max_iter=300).fit(X, y)")
    _run(shell, "clf = LogisticRegression(C=1.0, max_iter=300).fit(X, y)")  # same: same run
    assert nbtrack.active_run() is first
    _run(shell, "clf = LogisticRegression(C=0.1, max_iter=300).fit(X, y)")
    second = nbtrack.active_run()
    assert second is not None
    assert second.info.run_id != first.info.run_id
    assert second.info.run_name == "tuning"
    assert "params changed (C 1.0 -> 0.1)" in capsys.readouterr().out
    assert client.get_run(first.info.run_id).data.params["C"] == "1.0"
    assert client.get_run(second.info.run_id).data.params["C"] == "0.1"
    assert client.get_run(first.info.run_id).info.status == "FINISHED"


def test_config_setting_switches_autolog(shell: Any, client: nbtrack.TrackingClient) -> None:
    from sklearn.linear_model import LogisticRegression

    _run(shell, "%config Tracker.autolog = True")
    assert hasattr(LogisticRegression.fit, "__nbtrack_autolog__")
    _run(shell, "%track start")
    _run(shell, SETUP)
    _run(shell, "LogisticRegression(max_iter=300).fit(X, y)")
    run = nbtrack.active_run()
    assert run is not None
    assert "training_accuracy_score" in client.get_run(run.info.run_id).data.metrics
    _run(shell, "%config Tracker.autolog = False")
    assert not hasattr(LogisticRegression.fit, "__nbtrack_autolog__")
