"""The example notebooks run top to bottom in a real kernel and log what they say."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import nbtrack

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


@pytest.mark.slow
def test_quickstart_notebook_logs_a_run(store_dir: Path, tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    # The kernel inherits this test's environment, so it logs into store_dir.
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    runs = nbtrack.TrackingClient(store_dir).search_runs(
        [nbtrack.get_experiment_by_name("quickstart").experiment_id]
    )
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.1", "epochs": "20"}
    history = nbtrack.TrackingClient(store_dir).get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(20))
    assert history[-1].value < history[0].value
    last_output = notebook.cells[-1].outputs[0]["data"]["text/plain"]
    assert run.info.run_id in last_output
