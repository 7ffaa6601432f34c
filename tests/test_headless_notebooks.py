"""The shipped notebooks (``notebooks/``) run headless: ``nbtrack run``, ``sweep``, ``reproduce``.

And a headless run records what an interactive one does: the run named and
placed by the notebook's ``%track start`` (unless the command line says
otherwise, with a warning), each logged value linked to its cell, and the
environment of the kernel that ran the cells.
"""

from __future__ import annotations

import json
import sys
import venv
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack.cli import main

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _only_run(client: nbtrack.TrackingClient, experiment: str) -> nbtrack.Run:
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r}"
    (run,) = client.search_runs([found.experiment_id])
    return run


@pytest.mark.slow
def test_quickstart_runs_sweeps_and_reproduces_headless(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    executed = tmp_path / "executed.ipynb"
    output = _invoke("run", str(NOTEBOOKS / "quickstart.ipynb"), "-o", str(executed))
    assert "Run 'gd'" in output
    # `%track start gd --experiment quickstart` named and placed the headless run.
    assert sorted(e.name for e in client.search_experiments()) == ["Default", "quickstart"]
    run = _only_run(client, "quickstart")
    assert run.info.run_name == "gd"
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.1", "epochs": "20"}
    # Values logged by the notebook are linked to the cell that logged them.
    provenance = client.get_metric_provenance(run.info.run_id, "loss")
    assert [(p.cell.execution_count, p.first_step, p.last_step) for p in provenance] == [(3, 0, 19)]
    assert "for epoch in range(epochs)" in provenance[0].cell.source
    cells = nbformat.read(executed, as_version=4).cells
    assert "[(3, 0, 19)]" in cells[-3].outputs[0]["data"]["text/plain"]
    assert run.info.run_id in cells[-1].outputs[0]["data"]["text/plain"]  # its own search
    environment = json.loads(client.read_artifact(run.info.run_id, "environment.json"))
    assert environment["captured_in"] == "kernel"

    output = _invoke(
        "sweep", str(NOTEBOOKS / "quickstart.ipynb"), "--grid", "lr=0.05,0.1", "-m", "loss",
        "-j", "1",
    )  # fmt: skip
    assert "FINISHED" in output
    quickstart = client.get_experiment_by_name("quickstart")
    assert quickstart is not None
    sweep = [r for r in client.search_runs([quickstart.experiment_id]) if r.info.parent_run_id]
    assert sorted(r.data.params["lr"] for r in sweep) == ["0.05", "0.1"]
    assert all(r.info.status == "FINISHED" for r in sweep)
    assert {r.info.run_name for r in sweep} == {"sweep-quickstart-0", "sweep-quickstart-1"}

    output = _invoke("reproduce", run.info.run_id[:8])
    assert "Reproduced" in output
    assert len(client.search_experiments()) == 2  # nothing created on the way


@pytest.mark.slow
def test_compare_notebook_runs_and_reproduces_headless(client: nbtrack.TrackingClient) -> None:
    # Its parameters cell holds a list of tuples, no values to sweep over.
    _invoke("run", str(NOTEBOOKS / "compare.ipynb"), "--name", "compare-headless")
    (run,) = nbtrack.search_runs(
        filter_string="attributes.run_name = 'compare-headless'",
        search_all_experiments=True,
        output_format="list",
    )
    assert run.info.status == "FINISHED"
    output = _invoke("reproduce", run.info.run_id[:8])
    assert "Reproduced" in output


def test_every_shipped_notebook_has_a_headless_test() -> None:
    # A notebook added to notebooks/ needs its run/sweep/reproduce test above.
    tested = {"quickstart.ipynb", "compare.ipynb"}
    shipped = {path.name for path in NOTEBOOKS.glob("*.ipynb")}
    assert shipped == tested, f"notebooks without a headless test: {sorted(shipped - tested)}"


def _tiny_notebook(path: Path, *cells: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(notebook, path)
    return path


@pytest.mark.slow
def test_the_command_line_name_and_experiment_win_with_a_warning(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    notebook = _tiny_notebook(
        tmp_path / "placed.ipynb",
        "%load_ext nbtrack\n%track start mine --experiment asked",
        "import nbtrack\nnbtrack.log_metric('m', 1.0)\nprint(nbtrack.search_runs()['run_id'][0])",
    )
    executed = tmp_path / "out.ipynb"
    result = CliRunner().invoke(
        main, ["run", str(notebook), "-e", "given", "--name", "named", "-o", str(executed)]
    )
    assert result.exit_code == 0, result.output
    assert "warning: nbtrack run --experiment 'given' overrides the notebook's `%track start`" in (
        result.output
    )
    assert "--name 'named' overrides" in result.output
    run = _only_run(client, "given")
    assert run.info.run_name == "named"
    assert client.get_experiment_by_name("asked") is None  # no empty experiment
    cells = nbformat.read(executed, as_version=4).cells
    texts = [o.get("text", "") for o in cells[0].outputs]
    assert any("joined headless run 'named'" in t for t in texts)
    assert any("name 'mine' and experiment 'asked' are not used" in t for t in texts)
    assert run.info.run_id in cells[1].outputs[0]["text"]  # search_runs(): the run's experiment


@pytest.mark.slow
def test_the_environment_is_the_kernels_not_the_runners(
    client: nbtrack.TrackingClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another Python environment (a venv) with its own kernelspec, as `--kernel` names one.
    env_dir = tmp_path / "other-env"
    venv.EnvBuilder(system_site_packages=True, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    spec_dir = tmp_path / "jupyter" / "kernels" / "other"
    spec_dir.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "other", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    notebook = _tiny_notebook(tmp_path / "env.ipynb", "import sys\nprint(sys.executable)")
    _invoke("run", str(notebook), "--kernel", "other", "-e", "env")
    run = _only_run(client, "env")
    environment = json.loads(client.read_artifact(run.info.run_id, "environment.json"))
    assert environment["captured_in"] == "kernel"
    assert environment["python"]["executable"] == str(python)
    assert environment["python"]["executable"] != sys.executable
    assert environment["packages"]  # the kernel's distributions
    assert run.data.tags["nbtrack.python"] == environment["python"]["version"]
    # The kernel really was the other interpreter.
    executed = nbformat.reads(client.read_artifact(run.info.run_id, "executed.ipynb"), 4)
    assert executed.cells[0].outputs[0]["text"].strip() == str(python)
