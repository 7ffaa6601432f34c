"""``nbtrack run`` / ``nbtrack.projects.run``: headless runs in real kernels.

The notebooks are in ``tests/projects_notebooks/`` (written by its
``make_notebooks.py``); each test copies the one it runs into its temp dir.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack import fluent, projects
from nbtrack.cli import main
from nbtrack.exceptions import InvalidInputError, NotFoundError
from nbtrack.projects import _parameters

NOTEBOOKS = Path(__file__).parent / "projects_notebooks"


def copy_notebook(name: str, directory: Path) -> Path:
    """``tests/projects_notebooks/<name>.ipynb`` copied into ``directory``."""
    target = directory / f"{name}.ipynb"
    shutil.copy(NOTEBOOKS / f"{name}.ipynb", target)
    return target


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "nbtrack_projects_notebooks", NOTEBOOKS / "make_notebooks.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_notebooks_match_their_generator() -> None:
    generator = _generator()
    for name in generator.NOTEBOOKS:
        committed = (NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8")
        assert committed == generator.render(name), f"run {NOTEBOOKS / 'make_notebooks.py'}"


# -- parameters (no kernel) -------------------------------------------------------------


def _declared(source: str) -> _parameters.NotebookParameters:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})]
    return _parameters.find_parameters(notebook)


@pytest.mark.parametrize(
    ("source", "text", "expected"),
    [
        ("n = 3", "20", 20),
        ("n = 3", "0x10", 16),
        ("lr = 0.1", "1", 1.0),
        ("lr = 0.1", "1e-3", 0.001),
        ("flag = False", "yes", True),
        ("flag = True", "false", False),
        ("name = 'a'", "[1, 2]", "[1, 2]"),
        ("seed = None", "7", 7),
        ("seed = None", "abc", "abc"),
        ("layers = [1]", "[3, 4]", [3, 4]),
        ("shape = (1, 2)", "[3, 4]", (3, 4)),
        ("cfg = {'a': 1}", "{'b': 2}", {"b": 2}),
        ("path = Path('x')", "'y'", "y"),
    ],
)
def test_values_are_typed_as_the_parameters_cell(source: str, text: str, expected: object) -> None:
    declared = _declared(source)
    name = next(iter(declared.parameters))
    value = _parameters.resolve(declared, {name: text})[name]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("source", "text", "message"),
    [
        ("n = 3", "2.5", "n is int in the notebook (n = 3); '2.5' is not an int"),
        ("lr = 0.1", "fast", "'fast' is not a number"),
        ("flag = False", "maybe", "use true or false"),
        ("layers = [1]", "x", "'x' is not a Python literal"),
        ("layers = [1]", "{'a': 1}", "got dict"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_by_name(source: str, text: str, message: str) -> None:
    declared = _declared(source)
    name = next(iter(declared.parameters))
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        _parameters.resolve(declared, {name: text})


def test_python_values_are_converted_where_safe() -> None:
    declared = _declared("lr = 0.1\nn = 2\nshape = (1, 2)")
    values = _parameters.resolve(declared, {"lr": 1, "n": 5, "shape": [3, 4]})
    assert values == {"lr": 1.0, "n": 5, "shape": (3, 4)}
    assert isinstance(values["lr"], float)
    with pytest.raises(InvalidInputError, match="n is int in the notebook"):
        _parameters.resolve(declared, {"n": 2.5})


def test_injection_goes_after_the_parameters_cell_and_replaces_an_old_one() -> None:
    notebook = nbformat.read(NOTEBOOKS / "deterministic.ipynb", as_version=4)
    declared = _parameters.find_parameters(notebook)
    once = _parameters.inject(notebook, {"seed": 5}, declared)
    twice = _parameters.inject(once, {"seed": 6}, _parameters.find_parameters(once))
    tags = [c.metadata.get("tags", []) for c in twice.cells]
    assert tags == [["parameters"], ["injected-parameters"], []]
    assert twice.cells[1].source.splitlines()[-1] == "seed = 6"
    assert len(notebook.cells) == 2  # the original is left alone


def test_params_file_and_pairs(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("lr: 0.5\nlayers: [1, 2]\n")
    (tmp_path / "p.json").write_text('{"lr": 0.25}')
    assert _parameters.load_file(tmp_path / "p.yaml") == {"lr": 0.5, "layers": [1, 2]}
    assert _parameters.load_file(tmp_path / "p.json") == {"lr": 0.25}
    assert _parameters.parse_pairs(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(InvalidInputError, match="expected NAME=VALUE"):
        _parameters.parse_pairs(["novalue"])


# -- the fluent API joins the runner's run (no kernel) ----------------------------------


def test_start_run_joins_the_run_named_by_the_environment(
    client: nbtrack.TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = client.create_run("0", run_name="owned-elsewhere")
    run_id = owner.info.run_id
    monkeypatch.setenv(fluent.ENV_RUN_ID, run_id)
    with nbtrack.start_run(run_name="ignored", tags={"k": "v"}) as joined:
        assert joined.joined
        assert joined.info.run_id == run_id
        nbtrack.log_metric("m", 1.0)
    assert nbtrack.active_run() is None
    nbtrack.log_param("auto", 1)  # auto-start joins too
    active = nbtrack.active_run()
    assert active is not None
    assert active.joined
    with nbtrack.start_run(nested=True) as child:  # a child of the joined run is a new run
        assert not child.joined
        assert child.info.parent_run_id == run_id
    nbtrack.end_run()
    run = client.get_run(run_id)
    assert run.info.status == "RUNNING"  # its owner ends it, not the joiner
    assert run.info.run_name == "owned-elsewhere"
    assert run.data.metrics == {"m": 1.0}
    assert run.data.params == {"auto": "1"}
    assert run.data.tags["k"] == "v"


def test_an_explicit_run_id_is_not_joined(
    client: nbtrack.TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = client.create_run("0")
    client.set_terminated(mine.info.run_id)
    monkeypatch.setenv(fluent.ENV_RUN_ID, client.create_run("0").info.run_id)
    with nbtrack.start_run(run_id=mine.info.run_id) as resumed:
        assert not resumed.joined
    assert client.get_run(mine.info.run_id).info.status == "FINISHED"


def test_joining_a_missing_run_says_which_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fluent.ENV_RUN_ID, "0" * 32)
    with pytest.raises(NotFoundError, match="unset NBTRACK_RUN_ID"):
        nbtrack.start_run()


# -- real kernels -------------------------------------------------------------------------


@pytest.mark.slow
def test_injected_values_keep_their_types_and_the_notebook_joins_the_run(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    notebook = copy_notebook("typed", tmp_path)
    output = tmp_path / "out.ipynb"
    run = projects.run(
        notebook,
        {
            "lr": "1",
            "epochs": 2,
            "use_bias": "true",
            "optimizer": "adam",
            "seed": "7",
            "layers": "[1, 2, 3]",
            "extra": {"b": 2},
        },
        experiment="typed",
        run_name="typed-run",
        output=output,
        progress=False,
    )
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "typed-run"
    executed = nbformat.read(output, as_version=4)
    printed = json.loads(executed.cells[4].outputs[0]["text"])
    assert printed == {
        "lr": ["float", 1.0],
        "epochs": ["int", 2],
        "use_bias": ["bool", True],
        "optimizer": ["str", "adam"],
        "seed": ["int", 7],
        "layers": ["list", [1, 2, 3]],
        "extra": ["dict", {"b": 2}],
    }
    assert executed.cells[2].metadata["tags"] == ["injected-parameters"]
    # `%track start` in the notebook joined the runner's run: one run in the experiment.
    experiment = client.get_experiment_by_name("typed")
    assert experiment is not None
    assert [r.info.run_id for r in client.search_runs([experiment.experiment_id])] == [
        run.info.run_id
    ]
    assert run.data.params == {
        "lr": "1.0",
        "epochs": "2",
        "use_bias": "True",
        "optimizer": "adam",
        "seed": "7",
        "layers": "[1, 2, 3]",
        "extra": '{"b": 2}',
    }
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [2.0, 1.0]
    assert run.data.tags["source"] == "magic"  # `%track tag` in the notebook
    assert run.data.tags["nbtrack.python"]  # the environment
    paths = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"notebook.ipynb", "executed.ipynb", "environment.json", "parameters.json"} <= paths
    # One timeline entry per executed cell (the runner records it; the kernel's Tracker doesn't).
    timeline = client.get_cell_timeline(run.info.run_id)
    assert [e.execution_count for e in timeline] == [1, 2, 3, 4, 5, 6]
    assert [e.cell_id for e in timeline][:2] == ["c0", "c1"]
    assert all(e.outcome == "ok" for e in timeline)


@pytest.mark.slow
def test_a_track_params_parameters_cell_logs_the_injected_values(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    notebook = copy_notebook("track_params", tmp_path)
    (tmp_path / "params.yaml").write_text("lr: 0.25\nepochs: 5\n")
    args = ["run", str(notebook), "-f", str(tmp_path / "params.yaml"), "-p", "lr=0.5", "-e", "tp"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "FINISHED" in result.output
    experiment = client.get_experiment_by_name("tp")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])  # -p wins over -f
    assert f"Next: nbtrack runs show {run.info.run_id[:8]}" in result.output
    assert run.data.params == {"lr": "0.5", "epochs": "5"}
    assert run.data.metrics == {"product": 2.5}


@pytest.mark.slow
def test_a_notebook_without_parameters_cell_gets_them_at_the_top(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    notebook = copy_notebook("untagged", tmp_path)
    with pytest.raises(InvalidInputError, match=r"no cell tagged 'parameters'.*--allow-new"):
        projects.run(notebook, {"alpha": 3})
    assert client.search_runs() == []  # refused before any run was created
    run = projects.run(notebook, {"alpha": 3}, allow_new=True, progress=False)
    assert run.data.metrics == {"alpha": 3.0}
    executed = json.loads(client.read_artifact(run.info.run_id, "executed.ipynb"))
    assert executed["cells"][0]["metadata"]["tags"] == ["injected-parameters"]


def test_an_unknown_parameter_is_one_clear_line(tmp_path: Path) -> None:
    notebook = copy_notebook("deterministic", tmp_path)
    result = CliRunner().invoke(main, ["run", str(notebook), "-p", "sead=1"])
    assert result.exit_code == 1
    assert "defines no parameter 'sead' (its parameters cell sets: seed, n)" in result.output
    assert "--allow-new" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_a_failing_cell_fails_the_run_and_the_command(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    notebook = copy_notebook("failing", tmp_path)
    result = CliRunner().invoke(main, ["run", str(notebook), "-e", "broken"])
    assert result.exit_code == 1
    assert "cell 1 failed with ValueError: bad input 42" in result.stderr
    assert "check(42)" in result.stderr  # the failing cell's source
    assert 'raise ValueError(f"bad input {value}")' in result.stderr  # the traceback
    experiment = client.get_experiment_by_name("broken")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.metrics == {"before": 1.0}  # the cell after the failure never ran
    assert run.data.tags["nbtrack.error"] == "ValueError: bad input 42"
    outcomes = [(e.execution_count, e.outcome) for e in client.get_cell_timeline(run.info.run_id)]
    assert outcomes == [(1, "ok"), (2, "error")]
    assert "executed.ipynb" in {a.path for a in client.list_artifacts(run.info.run_id)}


@pytest.mark.slow
def test_sigint_kills_the_run_and_shuts_the_kernel_down(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    notebook = copy_notebook("sleepy", tmp_path)
    command = [sys.executable, "-c", "from nbtrack.cli import main; main()"]
    process = subprocess.Popen(
        [*command, "run", str(notebook), "--experiment", "sleepy"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        run_id = None
        while run_id is None and time.monotonic() < deadline:
            experiment = client.get_experiment_by_name("sleepy")
            runs = client.search_runs([experiment.experiment_id]) if experiment else []
            if runs and "started" in runs[0].data.metrics:  # the sleeping cell is running
                run_id = runs[0].info.run_id
            else:
                time.sleep(0.1)
        assert run_id is not None, "the run never reached its sleeping cell"
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130
    assert f"run {run_id} marked KILLED" in stderr
    assert "Traceback" not in stderr
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.metrics == {"started": 1.0}
    timeline = client.get_cell_timeline(run_id)
    assert [(e.outcome, e.error_type) for e in timeline] == [
        ("ok", None),
        ("error", "KeyboardInterrupt"),
    ]
    assert kernels_in(tmp_path) == []


def kernels_in(directory: Path) -> list[int]:
    """Pids of ipykernel processes whose working directory is ``directory``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = (proc / "cwd").resolve()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if cwd == directory.resolve() and b"ipykernel" in cmdline:
            found.append(int(proc.name))
    return found
