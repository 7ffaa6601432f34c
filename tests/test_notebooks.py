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
    client = nbtrack.TrackingClient(store_dir)
    experiment = client.get_experiment_by_name("quickstart")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.run_name == "gd"
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.1", "epochs": "20"}
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(20))
    assert history[-1].value < history[0].value
    # The training cell (execution count 3) logged every step.
    provenance = client.get_metric_provenance(run.info.run_id, "loss")
    assert [(p.cell.execution_count, p.first_step, p.last_step) for p in provenance] == [(3, 0, 19)]
    paths = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"notebook.ipynb", "executed.ipynb", "environment.json", "model"} <= paths
    assert run.info.run_id in notebook.cells[-1].outputs[0]["data"]["text/plain"]
