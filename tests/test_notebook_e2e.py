"""``%load_ext nbtrack`` end to end: notebooks executed in real kernels with nbclient.

The notebooks live in ``tests/notebooks/`` (written by ``make_notebooks.py``).
Each test copies one into its tmp dir (the kernel's working directory), runs
cells by index with nbclient's lower-level API, so that a cell can be re-run
as a user would, and then reads the store the kernel wrote: the kernel
inherits ``NBTRACK_TRACKING_URI`` from the autouse fixture of ``conftest.py``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import nbformat
import pytest
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbformat import NotebookNode

import nbtrack
from nbtrack.entities import Run
from nbtrack.store import close_all

NOTEBOOKS = Path(__file__).parent / "notebooks"
SNAPSHOT, EXECUTED = "notebook.ipynb", "executed.ipynb"
T = TypeVar("T")


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "nbtrack_make_notebooks", NOTEBOOKS / "make_notebooks.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


# -- helpers ---------------------------------------------------------------------------


def plain_env() -> dict[str, str]:
    """This process's environment (NBTRACK_TRACKING_URI included) for a kernel, less a
    JPY_SESSION_NAME inherited from a notebook that runs pytest."""
    return {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}


#: Seconds a kernel gets to exit on its own after a shutdown or restart request.
SHUTDOWN_GRACE_S = 60.0


class Kernel:
    """A notebook from ``tests/notebooks`` and an nbclient client to run its cells."""

    def __init__(self, name: str, tmp_path: Path, *, allow_errors: bool = False) -> None:
        self.nb: NotebookNode = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        self.path = tmp_path / f"{name}.ipynb"  # the file on disk a snapshot can come from
        nbformat.write(self.nb, self.path)
        self.client = NotebookClient(
            self.nb,
            timeout=60,
            kernel_name="python3",
            allow_errors=allow_errors,
            resources={"metadata": {"path": str(tmp_path)}},  # the kernel's cwd
        )

    def session_env(self) -> dict[str, str]:
        """The kernel's environment, with JPY_SESSION_NAME naming the notebook file."""
        return {**plain_env(), "JPY_SESSION_NAME": str(self.path)}

    @contextmanager
    def started(self, env: dict[str, str] | None = None) -> Iterator[Kernel]:
        """A running kernel; shut down gracefully (atexit hooks run) on leaving."""
        with self.client.setup_kernel(env=plain_env() if env is None else env):
            # Jupyter kills a kernel that has not exited SHUTDOWN_GRACE_S after a
            # shutdown request (5 s by default): on a loaded 2-core machine the
            # atexit hooks may need longer, and a kill would be a timing failure.
            self.client.km.shutdown_wait_time = SHUTDOWN_GRACE_S
            yield self

    def run(self, index: int, source: str | None = None) -> list[NotebookNode]:
        """Execute cell ``index`` (after setting its source, if given); returns its outputs."""
        cell = self.nb.cells[index]
        if source is not None:
            cell.source = source
        self.client.execute_cell(cell, index)
        return list(cell.outputs)

    def run_all(self, indices: Iterable[int]) -> list[list[NotebookNode]]:
        return [self.run(i) for i in indices]

    def is_alive(self) -> bool:
        alive: bool = run_sync(self.client.km.is_alive)()
        return alive

    def pid(self) -> int:
        """The kernel process's id (LocalProvisioner starts the kernel itself, no wrapper)."""
        pid: int = self.client.km.provisioner.process.pid
        return pid


def text(outputs: Sequence[NotebookNode]) -> str:
    """Everything a cell printed (stdout and stderr)."""
    return "".join(o.get("text", "") for o in outputs if o.output_type == "stream")


def assert_clean(all_outputs: Iterable[Sequence[NotebookNode]]) -> None:
    """No error output and nothing on stderr (nbtrack's logger would write there)."""
    for outputs in all_outputs:
        for output in outputs:
            assert output.output_type != "error", output
            assert output.get("name") != "stderr", output


def runs_by_start(client: nbtrack.TrackingClient) -> list[Run]:
    """Every run of the store, oldest first."""
    runs = client.search_runs(None, max_results=None)
    return sorted(runs, key=lambda r: (r.info.start_time, r.info.run_id))


def history(client: nbtrack.TrackingClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


def artifact_notebook(client: nbtrack.TrackingClient, run_id: str, path: str) -> NotebookNode:
    """An artifact notebook, checked valid against the nbformat v4 schema."""
    notebook = nbformat.reads(client.read_artifact(run_id, path).decode("utf-8"), as_version=4)
    nbformat.validate(notebook)
    return notebook


def eventually(read: Callable[[], T], timeout: float = 10.0) -> T:
    """``read()`` once it stops raising: what a live kernel logged is committed by its
    background writer within a fraction of a second."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return read()
        except nbtrack.NbtrackError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


# -- the notebooks ---------------------------------------------------------------------


def test_committed_notebooks_match_their_generator() -> None:
    names = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == sorted(generator.NOTEBOOKS)
    for name in names:
        committed = (NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8")
        assert committed == generator.render(name), f"run {NOTEBOOKS / 'make_notebooks.py'}"


# -- end to end ------------------------------------------------------------------------


@pytest.mark.slow
def test_rerunning_the_start_cell_ends_the_run_and_starts_another(
    tmp_path: Path, store_dir: Path
) -> None:
    kernel = Kernel("rerun_start", tmp_path)
    with kernel.started():
        outputs = kernel.run_all([0, 1, 2])
        rerun = kernel.run(1)  # the commonest notebook habit
        outputs += [rerun, *kernel.run_all([3, 4])]
    assert_clean(outputs)
    assert re.fullmatch(
        r"nbtrack: ended 'exp1'; started run 'exp1' \([0-9a-f]{8}\) in 'Default'\n", text(rerun)
    ), text(rerun)

    client = nbtrack.TrackingClient(store_dir)
    first, second = runs_by_start(client)
    for run in (first, second):
        assert run.info.run_name == "exp1"
        assert run.info.status == "FINISHED"
        assert run.info.end_time is not None
    assert first.info.end_time is not None
    assert first.info.end_time <= second.info.start_time
    assert history(client, first.info.run_id, "acc") == [(0, 0.5)]
    assert client.get_metric_history(first.info.run_id, "loss") == []
    assert history(client, second.info.run_id, "acc") == [(0, 0.9)]
    assert history(client, second.info.run_id, "loss") == [(0, 0.1)]
    # Each run's timeline holds the cells run while it was active, the start cell included.
    timelines = [
        [(e.execution_count, e.source, e.outcome) for e in client.get_cell_timeline(r.info.run_id)]
        for r in (first, second)
    ]
    cells = kernel.nb.cells
    assert timelines == [
        [(2, cells[1].source, "ok"), (3, cells[2].source, "ok"), (4, cells[1].source, "ok")],
        [(4, cells[1].source, "ok"), (5, cells[3].source, "ok"), (6, cells[4].source, "ok")],
    ]
    for run in (first, second):
        paths = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {SNAPSHOT, EXECUTED, "environment.json"} <= paths


@pytest.mark.slow
def test_a_failing_cell_is_recorded_and_the_run_goes_on(tmp_path: Path, store_dir: Path) -> None:
    kernel = Kernel("failing_cell", tmp_path, allow_errors=True)
    with kernel.started():
        kernel.run_all(range(len(kernel.nb.cells)))  # top to bottom, past the error
    errors = [o for c in kernel.nb.cells for o in c.outputs if o.output_type == "error"]
    assert [(e.ename, e.evalue) for e in errors] == [("ValueError", "bad value")]

    client = nbtrack.TrackingClient(store_dir)
    (run,) = runs_by_start(client)
    run_id = run.info.run_id
    assert run.info.status == "FINISHED"
    assert run.data.tags["nbtrack.snapshot.source"] == "timeline"  # no notebook file known
    events = client.get_cell_timeline(run_id)
    assert [(e.execution_count, e.outcome, e.error_type, e.error_message) for e in events] == [
        (2, "ok", None, None),
        (3, "ok", None, None),
        (4, "error", "ValueError", "bad value"),
        (5, "ok", None, None),
        (6, "ok", None, None),
    ]
    assert events[2].source == 'raise ValueError("bad value")'
    # The cell after the error logged its metric, and is known to have.
    assert history(client, run_id, "after") == [(0, 1.0)]
    (provenance,) = client.get_metric_provenance(run_id, "after")
    assert provenance.cell.seq == events[3].seq
    # The final snapshot exists; executed.ipynb shows the error where it happened.
    artifact_notebook(client, run_id, SNAPSHOT)
    executed = artifact_notebook(client, run_id, EXECUTED)
    outputs = [c.outputs for c in executed.cells]
    assert [len(o) for o in outputs] == [0, 0, 1, 0, 0]
    assert (outputs[2][0].ename, outputs[2][0].evalue) == ("ValueError", "bad value")


@pytest.mark.slow
def test_rerunning_a_params_cell_with_a_new_value_starts_a_new_run(
    tmp_path: Path, store_dir: Path
) -> None:
    kernel = Kernel("params_rerun", tmp_path)
    cell = kernel.nb.cells[2].source
    with kernel.started():
        outputs = kernel.run_all([0, 1, 2])
        changed = kernel.run(2, cell.replace("lr = 0.1", "lr = 0.01"))
        same = kernel.run(2)  # unchanged values: the same run goes on
        outputs += [changed, same, kernel.run(3)]
    assert_clean(outputs)
    message = text(changed)
    assert text(same) == ""

    client = nbtrack.TrackingClient(store_dir)
    first, second = runs_by_start(client)
    assert message == (
        f"nbtrack: params changed (lr 0.1 -> 0.01): ended run {first.info.run_id[:8]}, "
        f"started run 'sweep' ({second.info.run_id[:8]})\n"
    )
    assert [r.info.run_name for r in (first, second)] == ["sweep", "sweep"]
    assert [r.info.status for r in (first, second)] == ["FINISHED", "FINISHED"]
    assert first.data.params == {"lr": "0.1", "epochs": "3"}
    assert second.data.params == {"lr": "0.01", "epochs": "3"}
    assert second.info.experiment_id == first.info.experiment_id


@pytest.mark.slow
def test_watched_variable_is_logged_after_each_cell_that_changes_it(
    tmp_path: Path, store_dir: Path
) -> None:
    kernel = Kernel("watch", tmp_path)
    with kernel.started():
        # watch at count 3; halve at 4, 5, 6; no change at 7; unwatch at 8; change at 9.
        outputs = kernel.run_all([0, 1, 2, 3, 3, 3, 4, 5, 6, 7])
    assert_clean(outputs)
    assert text(outputs[2]) == "nbtrack: watching loss\n"

    client = nbtrack.TrackingClient(store_dir)
    (run,) = runs_by_start(client)
    run_id = run.info.run_id
    assert history(client, run_id, "loss") == [(0, 1.0), (1, 0.5), (2, 0.25), (3, 0.125)]
    assert run.data.metrics == {"loss": 0.125}
    # Each point remembers the cell execution that changed the variable.
    provenance = client.get_metric_provenance(run_id, "loss")
    assert [(p.cell.execution_count, p.first_step, p.last_step) for p in provenance] == [
        (3, 0, 0),
        (4, 1, 1),
        (5, 2, 2),
        (6, 3, 3),
    ]


@pytest.mark.slow
def test_kernel_restart_and_shutdown_end_the_active_run_with_a_snapshot(
    tmp_path: Path, store_dir: Path
) -> None:
    kernel = Kernel("shutdown", tmp_path)
    with kernel.started(env=kernel.session_env()):
        outputs = kernel.run_all([0, 1, 2])
        first_pid = kernel.pid()
        # A shutdown_request with restart=True; the kernel gets shutdown_wait_time
        # (SHUTDOWN_GRACE_S) to exit on its own before it is killed.
        run_sync(kernel.client.km.restart_kernel)(now=False)
        assert kernel.pid() != first_pid
        run_sync(kernel.client.kc.wait_for_ready)(timeout=60)
        outputs += kernel.run_all([0, 1])
    # Leaving the block shut the second kernel down gracefully, its run still active.
    assert_clean(outputs)

    client = nbtrack.TrackingClient(store_dir)
    restarted, shut_down = runs_by_start(client)
    on_disk = [c.source for c in nbformat.read(kernel.path, as_version=4).cells]
    for run in (restarted, shut_down):
        run_id = run.info.run_id
        assert run.info.run_name == "bye"
        assert run.info.status == "FINISHED"  # ended by atexit, not marked KILLED
        assert run.data.tags["nbtrack.snapshot.source"] == "file"
        assert run.data.tags["nbtrack.notebook"] == str(kernel.path)
        snapshot = artifact_notebook(client, run_id, SNAPSHOT)
        assert [c.source for c in snapshot.cells] == on_disk
        executed = artifact_notebook(client, run_id, EXECUTED)
        assert executed.cells[0].source == "%track start bye"
    # Everything logged before the restart is intact.
    run_id = restarted.info.run_id
    assert restarted.data.params == {"p": "1"}
    assert history(client, run_id, "m") == [(0, 2.0)]
    assert [(e.execution_count, e.outcome) for e in client.get_cell_timeline(run_id)] == [
        (2, "ok"),
        (3, "ok"),
    ]
    assert "environment.json" in {a.path for a in client.list_artifacts(run_id)}
    assert shut_down.data.params == {}


@pytest.mark.slow
def test_sigkill_of_the_kernel_mid_loop_keeps_every_flushed_point(
    tmp_path: Path, store_dir: Path
) -> None:
    kernel = Kernel("sigkill", tmp_path)
    side, pid_file = tmp_path / "flushed", tmp_path / "kernel.pid"
    with kernel.started():
        outputs = kernel.run_all([0, 1])
        loop = kernel.nb.cells[2].source
        kernel.client.kc.execute(loop)  # never returns: don't wait for its reply
        deadline = time.monotonic() + 30
        while not side.exists() or int(side.read_text()) < 200:
            assert kernel.is_alive(), "the kernel died on its own"
            assert time.monotonic() < deadline, "the loop never flushed 200 points"
            time.sleep(0.01)
        pid = int(pid_file.read_text())
        assert pid == kernel.pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while kernel.is_alive():
            assert time.monotonic() < deadline, "the kernel survived SIGKILL"
            time.sleep(0.01)
    assert_clean(outputs)
    flushed = int(side.read_text())  # every point counted here was acknowledged as durable

    assert integrity(store_dir / "nbtrack.db") == "ok"
    close_all()  # the first open from here marks the dead kernel's run
    client = nbtrack.TrackingClient(store_dir)
    (run,) = runs_by_start(client)
    run_id = run.info.run_id
    assert run.info.run_name == "doomed"
    assert run.info.status == "KILLED"
    points = history(client, run_id, "m")
    assert len(points) >= flushed
    assert points == [(step, float(step)) for step in range(len(points))]
    events = client.get_cell_timeline(run_id)
    assert [(e.source, e.outcome, e.duration_ms) for e in events] == [
        ("%track start doomed", "ok", events[0].duration_ms),
        (loop, "running", None),
    ]
    (provenance,) = client.get_metric_provenance(run_id, "m")
    assert provenance.cell.seq == events[1].seq
    assert provenance.first_step == 0
    assert provenance.last_step >= flushed - 1
    close_all()
    assert integrity(store_dir / "nbtrack.db") == "ok"


@pytest.mark.slow
def test_snapshot_stores_the_file_and_the_cells_as_they_ran(
    tmp_path: Path, store_dir: Path
) -> None:
    kernel = Kernel("snapshot", tmp_path)
    with kernel.started(env=kernel.session_env()):
        outputs = kernel.run_all([0, 1, 3, 2, 3, 4])  # y, x, y: out of file order
        client = nbtrack.TrackingClient(store_dir)
        (run,) = runs_by_start(client)
        run_id = run.info.run_id
        # Read while the run is active: what `%track snapshot` stored, before `%track end`.
        snapshot_bytes = eventually(lambda: client.read_artifact(run_id, SNAPSHOT))
        snapshot = artifact_notebook(client, run_id, SNAPSHOT)
        executed = eventually(lambda: artifact_notebook(client, run_id, EXECUTED))
        outputs.append(kernel.run(5))
    assert_clean(outputs)
    assert text(outputs[5]) == "nbtrack: stored notebook snapshot (from the file)\n"

    on_disk = nbformat.read(kernel.path, as_version=4)
    assert [(c.id, c.source) for c in snapshot.cells] == [(c.id, c.source) for c in on_disk.cells]
    cells = kernel.nb.cells
    assert [(c.source, c.execution_count) for c in executed.cells] == [
        (cells[1].source, 2),
        (cells[3].source, 3),
        (cells[2].source, 4),
        (cells[3].source, 5),
        (cells[4].source, 6),  # the snapshot's own cell, still running then
    ]
    assert len({c.id for c in executed.cells}) == 5

    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["nbtrack.snapshot.source"] == "file"
    # The end's snapshot found the same file: same bytes (content-addressed, stored once).
    assert client.read_artifact(run_id, SNAPSHOT) == snapshot_bytes
    final = artifact_notebook(client, run_id, EXECUTED)
    assert [c.execution_count for c in final.cells] == [2, 3, 4, 5, 6, 7]
    assert json.loads(snapshot_bytes)["nbformat"] == 4


@pytest.mark.slow
def test_loading_the_extension_imports_no_pandas_altair_or_widgets(tmp_path: Path) -> None:
    kernel = Kernel("light_load", tmp_path)
    with kernel.started():
        outputs = kernel.run_all(range(len(kernel.nb.cells)))
    assert_clean(outputs)
    # Before loading, after loading, after starting and ending a run.
    assert [text(o).splitlines()[-1] for o in outputs] == ["[]"] * 4
