"""``nbtrack sweep``: parent and child runs on a process pool and on Dask, real kernels."""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack import projects
from nbtrack.cli import main
from nbtrack.exceptions import InvalidInputError
from nbtrack.projects import _space

NOTEBOOKS = Path(__file__).parent / "projects_notebooks"
GRID = ["--grid", "lr=0.1,0.01", "--grid", "batch=32,64"]


#: A kernel's own log record of a reply it could not send while being killed.
KERNEL_SOCKET_ERROR = re.compile(
    r"\[IPKernelApp\] ERROR \| Exception in message handler:\n"
    r"Traceback.*?zmq\.error\.ZMQError[^\n]*\n",
    re.DOTALL,
)


def copy_notebook(name: str, directory: Path) -> Path:
    """``tests/projects_notebooks/<name>.ipynb`` copied into ``directory``."""
    target = directory / f"{name}.ipynb"
    shutil.copy(NOTEBOOKS / f"{name}.ipynb", target)
    return target


# -- combinations (no kernel) -------------------------------------------------------------


def test_grid_values_split_on_top_level_commas_only() -> None:
    grid = _space.parse_grid(["lr=0.1, 0.01", "layers=[1,2],[3,4]", "name='a,b',c"])
    assert grid == {"lr": ["0.1", "0.01"], "layers": ["[1,2]", "[3,4]"], "name": ["'a,b'", "c"]}
    with pytest.raises(InvalidInputError, match="expected --grid NAME=V1,V2"):
        _space.parse_grid(["lr"])


def test_distributions_sample_within_their_bounds() -> None:
    space = _space.parse_space(
        [
            "lr=loguniform(1e-4, 1e-1)",
            "dropout=uniform(0, 0.5)",
            "layers=int(1, 3)",
            "opt=choice(adam, 'sgd', 3)",
        ]
    )
    rng = random.Random(0)
    for _ in range(200):
        lr = space["lr"].sample(rng)
        assert 1e-4 <= lr <= 1e-1
        assert 0 <= space["dropout"].sample(rng) <= 0.5
        assert space["layers"].sample(rng) in (1, 2, 3)
        assert space["opt"].sample(rng) in ("adam", "sgd", 3)
    logs = [math.log10(space["lr"].sample(rng)) for _ in range(2000)]
    assert -2.7 < sum(logs) / len(logs) < -2.3  # log-uniform: mean exponent -2.5
    for bad, message in [
        ("normal(0, 1)", "unknown distribution"),
        ("loguniform(0, 1)", "0 < low"),
        ("int(1.5, 3)", "two integers"),
        ("uniform(2, 1)", "low is above high"),
        ("lr", "not a distribution"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            _space.parse_distribution(bad)


def test_combinations_are_the_grid_times_seeded_samples() -> None:
    grid = {"batch": [32, 64]}
    combos = projects.combinations(grid, {"lr": "uniform(0, 1)"}, n_random=3, seed=7)
    assert len(combos) == 6
    assert [c["batch"] for c in combos] == [32, 32, 32, 64, 64, 64]
    assert combos == projects.combinations(grid, {"lr": "uniform(0, 1)"}, n_random=3, seed=7)
    assert combos != projects.combinations(grid, {"lr": "uniform(0, 1)"}, n_random=3, seed=8)
    assert projects.combinations({"a": [1, 2], "b": ["x"]}) == [
        {"a": 1, "b": "x"},
        {"a": 2, "b": "x"},
    ]
    with pytest.raises(InvalidInputError, match="--space needs --random N"):
        projects.combinations(space={"lr": "uniform(0, 1)"})
    with pytest.raises(InvalidInputError, match="nothing to sweep"):
        projects.combinations()


def test_a_bad_combination_is_refused_before_any_run(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    notebook = copy_notebook("sweepable", tmp_path)
    result = CliRunner().invoke(main, ["sweep", str(notebook), "--grid", "batch=32,big"])
    assert result.exit_code == 1
    assert "batch is int in the notebook (batch = 32); 'big' is not an int" in result.output
    assert client.search_runs() == []


# -- real kernels -------------------------------------------------------------------------


def _children(client: nbtrack.TrackingClient, parent: nbtrack.Run) -> list[nbtrack.Run]:
    return [
        run
        for run in client.search_runs([parent.info.experiment_id])
        if run.info.parent_run_id == parent.info.run_id
    ]


@pytest.mark.slow
def test_a_grid_sweep_on_the_local_process_pool(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    notebook = copy_notebook("sweepable", tmp_path)
    result = CliRunner().invoke(
        main, ["sweep", str(notebook), *GRID, "--metric", "loss", "--jobs", "2", "-e", "pool"]
    )
    assert result.exit_code == 0, result.output
    experiment = client.get_experiment_by_name("pool")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if r.info.parent_run_id is None]
    children = _children(client, parent)
    assert len(runs) == 5
    assert len(children) == 4
    assert {(c.data.params["lr"], c.data.params["batch"]) for c in children} == {
        ("0.1", "32"), ("0.1", "64"), ("0.01", "32"), ("0.01", "64"),
    }  # fmt: skip
    assert all(c.info.status == "FINISHED" for c in children)
    assert len({c.data.tags["nbtrack.host"] for c in children}) == 1
    best = min(children, key=lambda c: c.data.metrics["loss"])
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["nbtrack.sweep.best_run"] == best.info.run_id
    assert parent.data.metrics["loss"] == pytest.approx(0.32)
    # The summary is sorted by the metric, best first, and names the best run.
    table = result.output.split("\n\nBest:")[0].splitlines()[3:]
    assert [float(line.split()[-1]) for line in table] == pytest.approx([0.32, 0.64, 3.2, 6.4])
    assert f"Best: run {best.info.run_id} (loss = 0.32)" in result.output
    # The in-notebook run table shows the children grouped under their parent.
    from nbtrack.ui import runs as run_table

    table_rows = run_table(experiment="pool", client=client).page.runs
    assert table_rows[0].info.run_id == parent.info.run_id
    shown = table_rows[1:]
    # Children in start order; two started in the same millisecond may come either way.
    assert {r.info.run_id for r in shown} == {c.info.run_id for c in children}
    starts = [r.info.start_time for r in shown]
    assert starts == sorted(starts)


@pytest.mark.slow
def test_a_sweep_on_a_dask_local_cluster(client: nbtrack.TrackingClient, tmp_path: Path) -> None:
    notebook = copy_notebook("sweepable", tmp_path)
    seen: list[projects.ChildResult] = []
    parent = projects.sweep(
        notebook,
        grid={"lr": [0.1, 0.01], "batch": [32, 64]},
        metric="loss",
        jobs=2,
        executor="dask",  # a LocalCluster on 127.0.0.1: 2 single-threaded worker processes
        experiment="dask",
        progress=False,
        on_result=seen.append,
    )
    assert parent.info.status == "FINISHED"
    assert sorted(r.index for r in seen) == [0, 1, 2, 3]
    children = _children(client, parent)
    assert sorted(c.data.metrics["loss"] for c in children) == pytest.approx([0.32, 0.64, 3.2, 6.4])
    summary = projects.summarize(parent.info.run_id)
    assert summary.best is not None
    assert summary.best.value == pytest.approx(0.32)
    assert [row.index for row in summary.rows] == [2, 3, 0, 1]


@pytest.mark.slow
def test_a_failing_child_does_not_stop_the_others_and_resume_runs_only_those(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    notebook = copy_notebook("sweepable", tmp_path)
    (tmp_path / "fail-64").touch()  # the children with batch=64 raise
    first = CliRunner().invoke(main, ["sweep", str(notebook), *GRID, "-m", "loss", "-j", "2"])
    assert first.exit_code == 1
    assert "2 run(s) did not finish; rerun only those with nbtrack sweep --resume" in first.output
    (parent,) = [r for r in client.search_runs() if r.info.parent_run_id is None]
    assert parent.info.status == "FAILED"
    statuses = {c.data.params["batch"] + "/" + c.info.status for c in _children(client, parent)}
    assert statuses == {"32/FINISHED", "64/FAILED"}
    before = {c.info.run_id for c in _children(client, parent)}

    (tmp_path / "fail-64").unlink()
    second = CliRunner().invoke(main, ["sweep", "--resume", parent.info.run_id[:8], "-j", "2"])
    assert second.exit_code == 0, second.output
    new = [c for c in _children(client, parent) if c.info.run_id not in before]
    assert sorted(c.data.params["batch"] for c in new) == ["64", "64"]  # only the unfinished
    assert all(c.info.status == "FINISHED" for c in new)
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
    summary = projects.summarize(parent.info.run_id)
    assert [row.status for row in summary.rows] == ["FINISHED"] * 4


@pytest.mark.slow
def test_ctrl_c_kills_the_sweep_and_its_running_children(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    notebook = copy_notebook("sleepy_sweep", tmp_path)
    command = [sys.executable, "-c", "from nbtrack.cli import main; main()", "sweep"]
    process = subprocess.Popen(
        [*command, str(notebook), "--grid", "x=1,2,3", "--jobs", "2", "-e", "ctrl-c"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's Ctrl-C reaches
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            experiment = client.get_experiment_by_name("ctrl-c")
            runs = client.search_runs([experiment.experiment_id]) if experiment else []
            if sum("x" in r.data.metrics for r in runs) == 2:  # both children are sleeping
                break
            time.sleep(0.1)
        else:
            pytest.fail("the children never reached their sleeping cell")
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "marked KILLED" in stderr
    # A kernel killed while it sends a reply may log its own ZMQ error (IPython 9 does):
    # that record is the kernel's, so only what is left must be clean.
    ours = KERNEL_SOCKET_ERROR.sub("", stderr)
    for sign in ("Parent appears to have exited", "leaked semaphore", "Traceback"):
        assert sign not in ours, stderr
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.status for r in runs) == ["KILLED"] * 3  # the parent and 2 children
    children = [r.data.params["x"] for r in runs if r.info.parent_run_id]
    assert sorted(children) == ["1", "2"]  # the third combination never started


@pytest.mark.slow
def test_ctrl_c_ends_a_dask_sweep_cleanly(client: nbtrack.TrackingClient, tmp_path: Path) -> None:
    notebook = copy_notebook("sleepy_sweep", tmp_path)
    command = [sys.executable, "-c", "from nbtrack.cli import main; main()", "sweep"]
    process = subprocess.Popen(
        [*command, str(notebook), "--grid", "x=1,2,3", "-j", "2", "--executor", "dask",
         "-e", "dask-ctrl-c"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group (the Dask workers too), as a terminal's
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            experiment = client.get_experiment_by_name("dask-ctrl-c")
            runs = client.search_runs([experiment.experiment_id]) if experiment else []
            if sum("x" in r.data.metrics for r in runs) == 2:  # both children are sleeping
                break
            time.sleep(0.2)
        else:
            pytest.fail("the children never reached their sleeping cell")
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "marked KILLED" in stderr
    # Nothing died half-way: no orphaned kernel, no leaked semaphore, no traceback.
    for sign in ("Parent appears to have exited", "leaked semaphore", "Traceback", "Warning"):
        assert sign not in stderr, stderr
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.status for r in runs) == ["KILLED"] * 3  # the parent and 2 children
    children = [r for r in runs if r.info.parent_run_id]
    assert sorted(r.data.params["x"] for r in children) == ["1", "2"]  # the third never started
    for child in children:  # each interrupted its kernel: the sleeping cell ended in error
        timeline = client.get_cell_timeline(child.info.run_id)
        assert timeline[-1].error_type == "KeyboardInterrupt"
