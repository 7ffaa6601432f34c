"""``nbtrack reproduce``: re-execute a run's notebook and compare, with real kernels."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from nbclient import NotebookClient

import nbtrack
from nbtrack import projects
from nbtrack.cli import main
from nbtrack.entities import CellEvent
from nbtrack.projects._reproduce import compare_environments, compare_metrics

NOTEBOOKS = Path(__file__).parent / "projects_notebooks"


def copy_notebook(name: str, directory: Path) -> Path:
    """``tests/projects_notebooks/<name>.ipynb`` copied into ``directory``."""
    target = directory / f"{name}.ipynb"
    shutil.copy(NOTEBOOKS / f"{name}.ipynb", target)
    return target


def _event(seq: int, count: int | None, source: str, cell_id: str | None = None) -> CellEvent:
    return CellEvent(seq, cell_id, count, source, 0, 1, "ok", None, None)


def test_execution_order_problems_are_named() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(s) for s in ("a = 1", "b = 2", "c = 3")]
    in_order = [_event(1, 1, "a = 1"), _event(2, 2, "b = 2"), _event(3, 3, "c = 3")]
    assert projects.execution_order_problems(in_order, notebook) == []
    swapped = [_event(1, 1, "a = 1"), _event(2, 2, "c = 3"), _event(3, 3, "b = 2")]
    assert projects.execution_order_problems(swapped, notebook) == [
        "cell 1 ('b = 2') ran after cell 2"
    ]
    repeated = [_event(1, 1, "a = 1", "x"), _event(2, 2, "a = 1", "x")]
    assert projects.execution_order_problems(repeated) == ["cell 'x' ran 2 times"]
    restarted = [_event(1, 5, "a = 1"), _event(2, 1, "b = 2")]
    assert projects.execution_order_problems(restarted) == ["execution count [1] came after [5]"]


def test_metric_and_environment_comparison() -> None:
    rows = compare_metrics(
        {"a": 1.0, "b": 2.0, "n": float("nan")}, {"a": 1.0005, "n": float("nan")}, 1e-3
    )
    assert [(r.key, r.agree) for r in rows] == [("a", True), ("b", False), ("n", True)]
    assert rows[0].delta == pytest.approx(0.0005)
    assert rows[1].delta is None
    old = {
        "python": {"version": "3.11.7"},
        "packages": {"a": "1", "b": "1"},
        "git": {"commit": "x"},
    }
    new = {"python": {"version": "3.12.1"}, "packages": {"b": "2", "c": "1"}, "git": {}}
    diff = compare_environments(old, new)
    assert diff.python == ("3.11.7", "3.12.1")
    assert diff.packages_added == {"c": "1"}
    assert diff.packages_removed == {"a": "1"}
    assert diff.packages_changed == {"b": ("1", "2")}
    assert diff.git_commit == ("x", None)
    assert compare_environments(old, old).same
    assert compare_environments(None, old).missing == ["original"]


@pytest.mark.slow
def test_a_deterministic_notebook_reproduces_with_zero_delta(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    original = projects.run(copy_notebook("deterministic", tmp_path), {"seed": 3}, progress=False)
    result = CliRunner().invoke(main, ["reproduce", original.info.run_id[:10]])
    assert result.exit_code == 0, result.output
    assert "Reproduced: 2 metric(s) agree within 0." in result.output
    assert "same Python, packages and git commit" in result.output
    assert "warning" not in result.output
    (new,) = client.search_runs(
        filter_string=f"tags.`nbtrack.reproduces` = '{original.info.run_id}'"
    )
    assert new.data.metrics == original.data.metrics
    assert new.data.params == original.data.params == {"seed": "3", "n": "200"}
    report = json.loads(client.read_artifact(new.info.run_id, "reproduce.json"))
    assert report["ok"] is True
    assert [m["delta"] for m in report["metrics"]] == [0.0, 0.0]
    assert new.data.tags["nbtrack.reproduce.ok"] == "true"


@pytest.mark.slow
def test_a_nondeterministic_notebook_reports_its_deltas(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    original = projects.run(copy_notebook("nondeterministic", tmp_path), progress=False)
    result = CliRunner().invoke(main, ["reproduce", original.info.run_id, "--tolerance", "1e-9"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    noise = next(line for line in lines if line.strip().startswith("noise"))
    assert noise.split()[-1] == "NO"
    constant = next(line for line in lines if line.strip().startswith("constant"))
    assert constant.split()[-2:] == ["0", "yes"]
    assert "Not reproduced: noise differ beyond 1e-09." in result.output
    (new,) = client.search_runs(filter_string="tags.`nbtrack.reproduces` != ''")
    report = json.loads(client.read_artifact(new.info.run_id, "reproduce.json"))
    assert report["ok"] is False
    delta = {m["key"]: m["delta"] for m in report["metrics"]}["noise"]
    assert delta == new.data.metrics["noise"] - original.data.metrics["noise"] != 0


@pytest.mark.slow
def test_an_out_of_order_run_is_flagged_and_replays_in_executed_order(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    path = copy_notebook("out_of_order", tmp_path)
    notebook = nbformat.read(path, as_version=4)
    kernel = NotebookClient(
        notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    env = {**os.environ, "JPY_SESSION_NAME": str(path)}
    with kernel.setup_kernel(env=env):
        for index in (0, 1, 2, 2, 3, 4):  # cell 2 twice: x is 100, not 10
            kernel.execute_cell(notebook.cells[index], index)
    (original,) = client.search_runs()
    assert original.data.metrics == {"x": 100.0}

    warnings: list[str] = []
    report = projects.reproduce(original.info.run_id, warn=warnings.append, progress=False)
    assert len(warnings) == 1
    assert "ran 2 times" in warnings[0]
    assert "--order executed" in warnings[0]
    assert report.warnings == warnings
    assert not report.ok
    assert [(m.key, m.old, m.new) for m in report.metrics] == [("x", 100.0, 10.0)]

    result = CliRunner().invoke(main, ["reproduce", original.info.run_id, "--order", "executed"])
    assert result.exit_code == 0, result.output
    assert "replaying the cells in the order they ran" in result.stderr
