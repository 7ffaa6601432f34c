"""``%load_ext nbtrack`` in IPython's own test shell: magics, cell hooks, provenance.

One in-process shell serves the whole session (IPython keeps a single
instance); each test gets it with a cleared namespace and the extension
freshly loaded, and unloads it afterwards. Cells run with
``store_history=True`` so execution counts advance as in a notebook. Every
check reads the store back through :class:`nbtrack.TrackingClient`.
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from IPython.testing.globalipapp import start_ipython

import nbtrack
from nbtrack import fluent
from nbtrack.entities import RunStatus
from nbtrack.notebook import Tracker, load_ipython_extension
from nbtrack.store import close_all

HOOK_LOG = "nbtrack.notebook"


# -- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture(scope="session")
def shell() -> InteractiveShell:
    start_ipython()  # returns the shell only on its first call in a process
    shell: InteractiveShell = InteractiveShell.instance()
    return shell


def _our_callbacks(shell: InteractiveShell) -> dict[str, list[Any]]:
    return {
        event: [cb for cb in callbacks if isinstance(getattr(cb, "__self__", None), Tracker)]
        for event, callbacks in shell.events.callbacks.items()
    }


@pytest.fixture
def ip(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """The test shell with a fresh namespace and nbtrack loaded; unloaded afterwards."""
    # Outside Jupyter, no notebook file can be found: snapshots come from the timeline.
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    shell.reset(new_session=False)
    shell.config.pop("Tracker", None)
    assert not any(_our_callbacks(shell).values()), "a previous test left hooks behind"
    result = shell.run_cell("%load_ext nbtrack", store_history=True)
    assert result.success, result.error_in_exec
    yield shell
    shell.run_cell("%unload_ext nbtrack")
    while fluent._active_runs:
        fluent.end_run()
    shell.config.pop("Tracker", None)  # %config Tracker... must not leak into the next test


@pytest.fixture
def run_cell(ip: InteractiveShell) -> Callable[[str], ExecutionResult]:
    """Run one cell as a notebook does (history kept, so execution counts advance)."""

    def run(source: str) -> ExecutionResult:
        result: ExecutionResult = ip.run_cell(source, store_history=True)
        return result

    return run


def _tracker(shell: InteractiveShell) -> Tracker:
    found = [c for c in shell.configurables if isinstance(c, Tracker)]
    assert len(found) == 1
    return found[0]


def _ok(result: ExecutionResult) -> ExecutionResult:
    assert result.success, f"cell failed: {result.error_before_exec or result.error_in_exec!r}"
    return result


def _usage_error(result: ExecutionResult) -> str:
    """The one-line UsageError message a cell ended with."""
    error = result.error_in_exec
    assert isinstance(error, UsageError), f"expected a UsageError, got {error!r}"
    message = str(error)
    assert "\n" not in message
    assert "Traceback" not in message
    return message


def _run_id() -> str:
    run = nbtrack.active_run()
    assert run is not None, "no active run"
    return run.info.run_id


def _artifact_paths(client: nbtrack.TrackingClient, run_id: str) -> set[str]:
    return {p for p, _, _ in client._store.artifact_rows(run_id)}


def _steps(client: nbtrack.TrackingClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


# -- loading and unloading -----------------------------------------------------------------


def _ours(configurables: list[Any]) -> list[Any]:
    return [c for c in configurables if type(c).__module__.startswith("nbtrack")]


# pre/post_execute tell the frontend of runs also after silent executions.
OUR_EVENTS = ("pre_run_cell", "post_run_cell", "pre_execute", "post_execute")


def test_load_registers_and_unload_removes_everything(shell: InteractiveShell) -> None:
    before = {event: list(cbs) for event, cbs in shell.events.callbacks.items()}
    # IPython 9 registers some of its own magics lazily, on first use: compare ours only.
    configurables_before = _ours(shell.configurables)
    listeners_before = list(fluent._listeners)

    assert shell.run_cell("%load_ext nbtrack").success
    magics = shell.magics_manager.magics
    assert "track" in magics["line"]
    assert "track" in magics["cell"]
    assert "TrackMagics" in shell.magics_manager.registry
    tracker = _tracker(shell)
    assert tracker.pre_run_cell in shell.events.callbacks["pre_run_cell"]
    assert tracker.post_run_cell in shell.events.callbacks["post_run_cell"]
    assert tracker.on_run_event in fluent._listeners

    # Loading again (by magic, or by calling the entry point) adds nothing.
    assert shell.run_cell("%load_ext nbtrack").success
    load_ipython_extension(shell)
    assert _our_callbacks(shell) == {
        event: [getattr(tracker, event)] if event in OUR_EVENTS else []
        for event in shell.events.callbacks
    }
    assert [c for c in shell.configurables if isinstance(c, Tracker)] == [tracker]
    assert fluent._listeners.count(tracker.on_run_event) == 1

    assert shell.run_cell("%unload_ext nbtrack").success
    assert "track" not in magics["line"]
    assert "track" not in magics["cell"]
    assert "TrackMagics" not in shell.magics_manager.registry
    assert {event: list(cbs) for event, cbs in shell.events.callbacks.items()} == before
    assert _ours(shell.configurables) == configurables_before
    assert fluent._listeners == listeners_before
    result = shell.run_cell("%track status")
    assert not result.success  # the magic is gone

    # A second load/unload cycle leaves the same state again.
    assert shell.run_cell("%load_ext nbtrack").success
    assert shell.run_cell("%unload_ext nbtrack").success
    assert {event: list(cbs) for event, cbs in shell.events.callbacks.items()} == before
    assert _ours(shell.configurables) == configurables_before


def test_rerunning_the_load_ext_cell_prints_nothing(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    assert shell.run_cell("%load_ext nbtrack", store_history=True).success
    capsys.readouterr()
    # A notebook's first cell run again: no "The nbtrack extension is already loaded".
    result = shell.run_cell("%load_ext nbtrack\n%track status", store_history=True)
    assert result.success
    out = capsys.readouterr().out
    assert "already loaded" not in out
    assert "no active run" in out  # the rest of the cell ran
    assert "nbtrack" in shell.extension_manager.loaded  # IPython still knows it is loaded
    assert shell.run_cell("x = 1\n%load_ext nbtrack", store_history=True).success
    assert "already loaded" not in capsys.readouterr().out
    # Unloading in such a cell leaves it unloaded; loading afterwards loads it.
    assert shell.run_cell("%load_ext nbtrack\n%unload_ext nbtrack").success
    assert "nbtrack" not in shell.extension_manager.loaded
    assert "track" not in shell.magics_manager.magics["line"]
    assert shell.run_cell("%load_ext nbtrack").success
    assert "track" in shell.magics_manager.magics["line"]
    assert shell.run_cell("%unload_ext nbtrack").success


def test_config_changes_traits_and_lists_help(
    ip: InteractiveShell,
    run_cell: Callable[[str], ExecutionResult],
    capsys: pytest.CaptureFixture[str],
) -> None:
    tracker = _tracker(ip)
    assert tracker.auto_snapshot is True
    _ok(run_cell("%config Tracker.auto_snapshot = False"))
    assert tracker.auto_snapshot is False

    capsys.readouterr()
    _ok(run_cell("%config Tracker"))
    listing = capsys.readouterr().out
    for name, trait in tracker.traits(config=True).items():
        assert f"Tracker.{name}" in listing
        help_text = trait.help
        assert help_text, f"trait {name} has no help"
        assert help_text.split()[0] in listing

    _ok(run_cell("%track start no-snapshot"))
    run_id = _run_id()
    _ok(run_cell("%track end"))
    client = nbtrack.TrackingClient()
    assert "notebook.ipynb" not in _artifact_paths(client, run_id)
    assert "executed.ipynb" not in _artifact_paths(client, run_id)
    assert client.get_run(run_id).info.status == RunStatus.FINISHED


def test_end_stores_snapshots_by_default(run_cell: Callable[[str], ExecutionResult]) -> None:
    _ok(run_cell("%track start snap"))
    run_id = _run_id()
    _ok(run_cell("x = 1"))
    _ok(run_cell("%track end"))
    client = nbtrack.TrackingClient()
    assert {"notebook.ipynb", "executed.ipynb"} <= _artifact_paths(client, run_id)


def test_help(
    run_cell: Callable[[str], ExecutionResult], capsys: pytest.CaptureFixture[str]
) -> None:
    _ok(run_cell("%track -h"))
    out = capsys.readouterr().out
    assert "usage: %track" in out
    for command in ("start", "end", "status", "param", "metric", "watch", "snapshot", "log"):
        assert command in out
    _ok(run_cell("%track start -h"))
    assert "--resume" in capsys.readouterr().out
    _ok(run_cell("%track"))
    assert "usage: %track" in capsys.readouterr().out
    _ok(run_cell("%track?"))
    assert "%%track params" in capsys.readouterr().out
    assert nbtrack.active_run() is None  # help starts nothing


# -- run control ---------------------------------------------------------------------------


def test_start_with_experiment_and_tags(
    run_cell: Callable[[str], ExecutionResult], capsys: pytest.CaptureFixture[str]
) -> None:
    _ok(run_cell("%track start baseline --experiment E1 --tag team=vision --tag k=v"))
    out = capsys.readouterr().out
    assert "started run 'baseline'" in out
    assert "'E1'" in out
    client = nbtrack.TrackingClient()
    run = client.get_run(_run_id())
    experiment = client.get_experiment_by_name("E1")
    assert experiment is not None
    assert run.info.experiment_id == experiment.experiment_id
    assert run.info.run_name == "baseline"
    assert run.info.status == RunStatus.RUNNING
    assert run.data.tags["team"] == "vision"
    assert run.data.tags["k"] == "v"
    assert run.data.tags["mlflow.source.type"] == "NOTEBOOK"


def test_start_again_ends_the_previous_run(
    run_cell: Callable[[str], ExecutionResult], capsys: pytest.CaptureFixture[str]
) -> None:
    _ok(run_cell("%track start first"))
    first = _run_id()
    capsys.readouterr()
    _ok(run_cell("%track start second"))
    assert "ended 'first'" in capsys.readouterr().out
    second = _run_id()
    _ok(run_cell("%track start second"))  # the same cell re-run, as notebooks do
    third = _run_id()
    assert len({first, second, third}) == 3
    assert len(fluent._active_runs) == 1
    client = nbtrack.TrackingClient()
    assert client.get_run(first).info.status == RunStatus.FINISHED
    assert client.get_run(second).info.status == RunStatus.FINISHED
    assert client.get_run(third).info.status == RunStatus.RUNNING
    assert client.get_run(third).info.run_name == "second"


def test_resume_continues_steps_and_timeline(
    run_cell: Callable[[str], ExecutionResult], capsys: pytest.CaptureFixture[str]
) -> None:
    _ok(run_cell("%track start long"))
    run_id = _run_id()
    _ok(run_cell("x = 0.1"))
    _ok(run_cell("%track metric x"))
    _ok(run_cell("%track metric x"))
    _ok(run_cell("%track end"))
    client = nbtrack.TrackingClient()
    last_seq = client.get_cell_timeline(run_id)[-1].seq
    close_all()  # as after a kernel restart: nothing cached about the run survives

    capsys.readouterr()
    _ok(run_cell(f"%track start --resume {run_id}"))
    assert "resumed run 'long'" in capsys.readouterr().out
    assert _run_id() == run_id
    _ok(run_cell("x = 0.5"))
    _ok(run_cell("%track metric x"))
    assert _steps(client, run_id, "x") == [(0, 0.1), (1, 0.1), (2, 0.5)]
    assert client.get_run(run_id).info.status == RunStatus.RUNNING
    timeline = client.get_cell_timeline(run_id)
    resumed = [e for e in timeline if e.seq > last_seq]
    assert [e.source for e in resumed] == [
        f"%track start --resume {run_id}",
        "x = 0.5",
        "%track metric x",
    ]
    assert resumed[0].seq == last_seq + 1


def test_end_with_status(
    run_cell: Callable[[str], ExecutionResult], capsys: pytest.CaptureFixture[str]
) -> None:
    _ok(run_cell("%track start doomed"))
    run_id = _run_id()
    _ok(run_cell("%track end --status FAILED"))
    assert "ended 'doomed'" in capsys.readouterr().out
    assert nbtrack.active_run() is None
    assert nbtrack.TrackingClient().get_run(run_id).info.status == RunStatus.FAILED
    _ok(run_cell("%track end"))
    assert "no active run" in capsys.readouterr().out


def test_status(
    run_cell: Callable[[str], ExecutionResult],
    capsys: pytest.CaptureFixture[str],
    store_dir: Path,
) -> None:
    _ok(run_cell("%track status"))
    out = capsys.readouterr().out
    assert "no active run" in out
    assert f"store: {store_dir.resolve()}" in out  # which store, before any run
    _ok(run_cell("%track start probe --experiment Status"))
    run_id = _run_id()
    _ok(run_cell("a = 1\nb = 'two'\nloss = 0.5"))
    _ok(run_cell("%track param a b"))
    _ok(run_cell("%track watch loss"))
    capsys.readouterr()
    _ok(run_cell("%track status"))
    out = capsys.readouterr().out
    assert "'probe'" in out
    assert run_id in out
    assert "'Status'" in out
    assert "2 params" in out
    assert "1 metrics" in out
    assert "1 artifacts" in out  # environment.json
    assert "1 watched" in out
    assert "snapshot: not yet" in out
    assert f"store: {store_dir.resolve()}" in out
    _ok(run_cell("%track snapshot"))
    capsys.readouterr()
    _ok(run_cell("%track status"))
    assert "snapshot: taken" in capsys.readouterr().out


# -- logging sub-commands ------------------------------------------------------------------


def test_param_metric_tag_note_log(
    run_cell: Callable[[str], ExecutionResult],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _ok(run_cell("%track start logging"))
    run_id = _run_id()
    _ok(run_cell("a = 3\nb = 'adam'\nc = [1, 2]\nx = 0.25"))
    _ok(run_cell("%track param a b c"))
    _ok(run_cell("%track metric x --step 5"))
    _ok(run_cell("%track metric x"))  # the next step after 5
    _ok(run_cell("%track tag stage=dev owner=me"))
    _ok(run_cell('%track note "some text with spaces"'))
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    capsys.readouterr()
    _ok(run_cell("%track log notes.txt"))
    assert "logged notes.txt" in capsys.readouterr().out
    _ok(run_cell("%track log notes.txt --artifact-path docs"))

    client = nbtrack.TrackingClient()
    data = client.get_run(run_id).data
    assert data.params == {"a": "3", "b": "adam", "c": "[1, 2]"}
    assert _steps(client, run_id, "x") == [(5, 0.25), (6, 0.25)]
    assert data.tags["stage"] == "dev"
    assert data.tags["owner"] == "me"
    assert data.tags["mlflow.note.content"] == "some text with spaces"
    assert client.read_artifact(run_id, "notes.txt") == b"hello"
    assert client.read_artifact(run_id, "docs/notes.txt") == b"hello"


def test_snapshot_stores_valid_notebooks(
    run_cell: Callable[[str], ExecutionResult], capsys: pytest.CaptureFixture[str]
) -> None:
    _ok(run_cell("%track start snapshots"))
    run_id = _run_id()
    _ok(run_cell("x = 1"))
    run_cell("1 / 0")
    capsys.readouterr()
    _ok(run_cell("%track snapshot"))
    assert "from the timeline" in capsys.readouterr().out

    client = nbtrack.TrackingClient()
    assert client.get_run(run_id).data.tags["nbtrack.snapshot.source"] == "timeline"
    for name in ("notebook.ipynb", "executed.ipynb"):
        notebook = nbformat.reads(client.read_artifact(run_id, name).decode(), as_version=4)
        nbformat.validate(notebook)
        sources = [cell.source for cell in notebook.cells]
        assert sources == ["%track start snapshots", "x = 1", "1 / 0", "%track snapshot"]
        counts = [cell.execution_count for cell in notebook.cells]
        assert counts == sorted(counts)
        assert len(set(counts)) == len(counts)
        error = notebook.cells[2].outputs[0]
        assert error.output_type == "error"
        assert error.ename == "ZeroDivisionError"


def test_watch_logs_only_changes(
    run_cell: Callable[[str], ExecutionResult],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _ok(run_cell("%track start watching"))
    run_id = _run_id()
    _ok(run_cell("loss = 1.0"))
    _ok(run_cell("%track watch loss later"))
    assert "watching loss, later" in capsys.readouterr().out
    for source in (
        "loss = 1.0",  # same value: nothing
        "loss = 0.5",
        "y = 7",  # another variable: nothing
        "loss = 0.5",
        "loss = 0.25",
        "later = 3",  # defined only now: its first point
        "loss = float('nan')",
        "loss = float('nan')",  # NaN again is no change
    ):
        _ok(run_cell(source))
    client = nbtrack.TrackingClient()
    loss = client.get_metric_history(run_id, "loss")
    assert [m.step for m in loss] == [0, 1, 2, 3]
    assert [m.value for m in loss[:3]] == [1.0, 0.5, 0.25]
    assert loss[3].value != loss[3].value  # NaN
    assert _steps(client, run_id, "later") == [(0, 3.0)]

    with caplog.at_level(logging.WARNING, logger=HOOK_LOG):
        _ok(run_cell("loss = 'not a number'\nlater = 4"))
    assert "watched variable loss not logged" in caplog.text
    assert _steps(client, run_id, "later") == [(0, 3.0), (1, 4.0)]

    _ok(run_cell("%track unwatch loss"))
    _ok(run_cell("loss = 0.1\nlater = 5"))
    assert len(client.get_metric_history(run_id, "loss")) == 4
    assert _steps(client, run_id, "later")[-1] == (2, 5.0)
    _ok(run_cell("%track unwatch"))
    _ok(run_cell("later = 6"))
    assert len(client.get_metric_history(run_id, "later")) == 3


def test_watched_metrics_remember_the_cell_that_changed_them(
    run_cell: Callable[[str], ExecutionResult],
) -> None:
    _ok(run_cell("%track start watched-provenance"))
    run_id = _run_id()
    _ok(run_cell("loss = 1.0\n%track watch loss"))
    _ok(run_cell("loss = 0.5"))
    _ok(run_cell("z = 0"))
    _ok(run_cell("loss = 0.25"))
    spans = nbtrack.TrackingClient().get_metric_provenance(run_id, "loss")
    assert [(p.cell.source, p.first_step, p.last_step, p.count) for p in spans] == [
        ("loss = 1.0\n%track watch loss", 0, 0, 1),
        ("loss = 0.5", 1, 1, 1),
        ("loss = 0.25", 2, 2, 1),
    ]


# -- errors ----------------------------------------------------------------------------------


def test_snapshot_without_a_run_is_a_usage_error(
    run_cell: Callable[[str], ExecutionResult],
) -> None:
    message = _usage_error(run_cell("%track snapshot"))
    assert "no active run to snapshot" in message
    assert nbtrack.active_run() is None


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("%track bogus", "invalid choice: 'bogus'"),
        ("%track param undefined_name", "not defined: undefined_name"),
        ("%track metric a undefined_name", "not defined: undefined_name"),
        ("%track param thing", "thing is a Thing, not a number"),
        ("%track param big", "the limit is"),
        ("%track metric b", "metric 'b' must be a number"),
        ("%track metric a --step soon", "invalid int value: 'soon'"),
        ("%track tag novalue", "expected KEY=VALUE, got 'novalue'"),
        ("%track tag =v", "expected KEY=VALUE, got '=v'"),
        ("%track start x --tag oops", "expected KEY=VALUE, got 'oops'"),
        ("%track start --resume 0123456789abcdef", "0123456789abcdef"),
        ('%track note "unbalanced', "No closing quotation"),
        ("%track end --status DONE", "invalid choice: 'DONE'"),
        ("%track param a --bogus", "unrecognized arguments: --bogus"),
        ("%track param", "the following arguments are required: NAME"),
        ("%track log does-not-exist.txt", "does not exist"),
        ("%track param a_changed", "already"),
        ("%%track bogus\nq = 1", "unknown cell mode 'bogus'"),
        ("%%track\nq = 1", "unknown cell mode ''"),
    ],
)
def test_usage_errors_are_one_line_and_lose_nothing(
    run_cell: Callable[[str], ExecutionResult], cell: str, expected: str
) -> None:
    _ok(run_cell("%track start careful"))
    run_id = _run_id()
    _ok(run_cell("a = 1\nb = 'text'\nclass Thing: pass\nthing = Thing()\nbig = list(range(999))"))
    _ok(run_cell("%track param a\n%track metric a\n%track tag k=v"))
    _ok(run_cell("a_changed = 1\n%track param a_changed\na_changed = 2"))

    message = _usage_error(run_cell(cell))
    assert expected in message
    assert message.startswith("%")

    # The run is intact and still logging.
    assert _run_id() == run_id
    _ok(run_cell("%track metric a"))
    client = nbtrack.TrackingClient()
    run = client.get_run(run_id)
    assert run.info.status == RunStatus.RUNNING
    assert run.data.params == {"a": "1", "a_changed": "1"}
    assert run.data.tags["k"] == "v"
    assert _steps(client, run_id, "a") == [(0, 1.0), (1, 1.0)]
    assert "q" not in run.data.params
    events = client.get_cell_timeline(run_id)
    assert events[-2].source == cell
    assert events[-2].outcome == "error"
    assert events[-2].error_type == "UsageError"


# -- %%track params --------------------------------------------------------------------------

PARAMS_CELL = """%%track params
lr = 0.1
name = "adam"
use_bias = True
scheduler = None
layers = [64, 32]
opts = {"momentum": 0.9, "nesterov": False}
width, (depth, heads) = 128, (4, 8)
epochs: int = 10
for step in range(3):
    total = step
if lr > 0:
    inside_if = 1
def helper():
    inside_function = 2
class Config:
    inside_class = 3
Config.attribute = 4
opts["extra"] = 5
_private = 6
import math
"""


def test_params_cell_logs_top_level_simple_assignments(
    run_cell: Callable[[str], ExecutionResult],
    ip: InteractiveShell,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _ok(run_cell("%track start params"))
    run_id = _run_id()
    capsys.readouterr()
    _ok(run_cell(PARAMS_CELL))
    assert capsys.readouterr().out == ""  # every assignment was simple or not a candidate
    assert ip.user_ns["lr"] == 0.1  # the cell itself ran
    assert ip.user_ns["Config"].attribute == 4
    params = nbtrack.TrackingClient().get_run(run_id).data.params
    assert params == {
        "lr": "0.1",
        "name": "adam",
        "use_bias": "True",
        "scheduler": "None",
        "layers": "[64, 32]",
        "opts": json.dumps({"momentum": 0.9, "nesterov": False, "extra": 5}),
        "width": "128",
        "depth": "4",
        "heads": "8",
        "epochs": "10",
    }
    # Re-running it unchanged keeps the run.
    _ok(run_cell(PARAMS_CELL))
    assert capsys.readouterr().out == ""
    assert _run_id() == run_id
    assert len(fluent._active_runs) == 1


def test_params_cell_reports_values_that_are_not_params(
    run_cell: Callable[[str], ExecutionResult], capsys: pytest.CaptureFixture[str]
) -> None:
    _ok(run_cell("%track start skipped"))
    run_id = _run_id()
    capsys.readouterr()
    _ok(run_cell("%%track params\nlr = 0.1\nmodel = object()"))
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "nbtrack: not a param: model is a object, not a number, string, bool, None "
        "or a small list/tuple/dict of those"
    ]
    assert nbtrack.TrackingClient().get_run(run_id).data.params == {"lr": "0.1"}


def test_params_cell_with_a_changed_value_starts_a_new_run(
    run_cell: Callable[[str], ExecutionResult], capsys: pytest.CaptureFixture[str]
) -> None:
    _ok(run_cell("%track start sweep --experiment Sweeps --tag team=nlp"))
    first = _run_id()
    _ok(run_cell("%%track params\nlr = 0.1\nbatch = 32"))
    capsys.readouterr()
    _ok(run_cell("%%track params\nlr = 0.2\nbatch = 32"))
    lines = capsys.readouterr().out.splitlines()
    second = _run_id()
    assert second != first
    assert len(lines) == 1
    assert "params changed (lr 0.1 -> 0.2)" in lines[0]
    assert first[:8] in lines[0]
    assert second[:8] in lines[0]

    client = nbtrack.TrackingClient()
    old, new = client.get_run(first), client.get_run(second)
    assert old.info.status == RunStatus.FINISHED
    assert old.data.params == {"lr": "0.1", "batch": "32"}
    assert new.info.status == RunStatus.RUNNING
    assert new.info.run_name == "sweep"
    assert new.info.experiment_id == old.info.experiment_id
    assert new.data.params == {"lr": "0.2", "batch": "32"}
    assert new.data.tags["team"] == "nlp"
    # The new run's timeline starts with the cell that started it, which logged the params.
    timeline = client.get_cell_timeline(second)
    assert timeline[0].source == "%%track params\nlr = 0.2\nbatch = 32"
    assert client.get_value_cells(second)["params"] == {"lr": 1, "batch": 1}


def test_params_cell_without_a_run_starts_one(
    run_cell: Callable[[str], ExecutionResult], capsys: pytest.CaptureFixture[str]
) -> None:
    assert nbtrack.active_run() is None
    _ok(run_cell("%%track params\nseed = 42"))
    assert "started run" in capsys.readouterr().out
    params = nbtrack.TrackingClient().get_run(_run_id()).data.params
    assert params == {"seed": "42"}


def test_params_cell_error_propagates_as_the_users_error(
    run_cell: Callable[[str], ExecutionResult],
) -> None:
    _ok(run_cell("%track start failing-params"))
    run_id = _run_id()
    result = run_cell("%%track params\nlr = 0.1\nraise ValueError('bad config')")
    assert isinstance(result.error_in_exec, ValueError)
    assert str(result.error_in_exec) == "bad config"
    assert nbtrack.TrackingClient().get_run(run_id).data.params == {}
    assert _run_id() == run_id


# -- cell timeline -----------------------------------------------------------------------------


def test_timeline_records_each_cell_of_the_run(
    run_cell: Callable[[str], ExecutionResult],
) -> None:
    _ok(run_cell("before = 1"))  # no run yet: not recorded
    _ok(run_cell("%track start timeline"))
    run_id = _run_id()
    _ok(run_cell("x = 1"))
    failed = run_cell("raise RuntimeError('boom')")
    assert isinstance(failed.error_in_exec, RuntimeError)
    assert nbtrack.active_run() is not None  # an error does not end the run
    _ok(run_cell("import time\ntime.sleep(0.02)"))
    _ok(run_cell("x = 1"))  # the same text again
    _ok(run_cell("%track end"))
    _ok(run_cell("after = 1"))  # run ended: not recorded

    events = nbtrack.TrackingClient().get_cell_timeline(run_id)
    assert [e.source for e in events] == [
        "%track start timeline",
        "x = 1",
        "raise RuntimeError('boom')",
        "import time\ntime.sleep(0.02)",
        "x = 1",
        "%track end",
    ]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    counts = [e.execution_count for e in events]
    assert all(c is not None for c in counts)
    assert counts == sorted(counts)
    assert len(set(counts)) == len(counts)
    assert [e.outcome for e in events] == ["ok", "ok", "error", "ok", "ok", "ok"]
    assert (events[2].error_type, events[2].error_message) == ("RuntimeError", "boom")
    assert all(
        e.error_type is None and e.error_message is None for e in events if e.outcome == "ok"
    )
    assert all(e.duration_ms is not None and e.duration_ms >= 0 for e in events)
    assert events[3].duration_ms is not None
    assert events[3].duration_ms >= 20
    starts = [e.start_time for e in events]
    assert starts == sorted(starts)
    assert all(e.cell_id is None for e in events)  # the test shell sends no cell ids


def test_keyboard_interrupt_is_recorded_and_the_run_goes_on(
    run_cell: Callable[[str], ExecutionResult],
) -> None:
    _ok(run_cell("%track start interrupted"))
    run_id = _run_id()
    result = run_cell("raise KeyboardInterrupt")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert _run_id() == run_id
    _ok(run_cell("x = 1"))
    client = nbtrack.TrackingClient()
    assert client.get_run(run_id).info.status == RunStatus.RUNNING
    events = client.get_cell_timeline(run_id)
    assert [(e.source, e.outcome, e.error_type) for e in events[1:]] == [
        ("raise KeyboardInterrupt", "error", "KeyboardInterrupt"),
        ("x = 1", "ok", None),
    ]


def test_record_timeline_off(
    ip: InteractiveShell, run_cell: Callable[[str], ExecutionResult]
) -> None:
    _ok(run_cell("%config Tracker.record_timeline = False"))
    _ok(run_cell("%track start quiet"))
    run_id = _run_id()
    _ok(run_cell("x = 1\n%track metric x"))
    client = nbtrack.TrackingClient()
    assert client.get_cell_timeline(run_id) == []
    assert client.get_metric_provenance(run_id, "x") == []
    assert _steps(client, run_id, "x") == [(0, 1.0)]


# -- provenance ------------------------------------------------------------------------------


def test_metric_provenance_names_each_cell_and_its_steps(
    run_cell: Callable[[str], ExecutionResult],
) -> None:
    _ok(run_cell("import nbtrack\n%track start provenance"))
    run_id = _run_id()
    first = "for i in range(3):\n    nbtrack.log_metric('acc', i / 10)"
    second = "for i in range(2):\n    nbtrack.log_metric('acc', 0.5 + i / 10)"
    _ok(run_cell(first))
    _ok(run_cell("y = 1"))
    _ok(run_cell(second))
    _ok(run_cell("acc = 0.9\n%track metric acc --step 10"))

    client = nbtrack.TrackingClient()
    spans = client.get_metric_provenance(run_id, "acc")
    assert [(p.key, p.cell.seq, p.cell.source) for p in spans] == [
        ("acc", 2, first),
        ("acc", 4, second),
        ("acc", 5, "acc = 0.9\n%track metric acc --step 10"),
    ]
    assert [(p.first_step, p.last_step, p.count) for p in spans] == [
        (0, 2, 3),
        (3, 4, 2),
        (10, 10, 1),
    ]
    assert client.get_metric_provenance(run_id, "never-logged") == []


def test_value_cells_map_params_tags_and_artifacts(
    run_cell: Callable[[str], ExecutionResult], tmp_path: Path
) -> None:
    _ok(run_cell("%track start values"))  # seq 1: its tags and environment.json
    run_id = _run_id()
    _ok(run_cell("a = 1\n%track param a"))  # seq 2
    _ok(run_cell("%track tag stage=dev"))  # seq 3
    (tmp_path / "model.bin").write_bytes(b"\x00\x01")
    _ok(run_cell("%track log model.bin"))  # seq 4
    _ok(run_cell("%%track params\nlr = 0.1"))  # seq 5
    _ok(run_cell("%track note 'what this run tries'"))  # seq 6

    cells = nbtrack.TrackingClient().get_value_cells(run_id)
    assert cells["params"] == {"a": 2, "lr": 5}
    assert cells["tags"]["stage"] == 3
    assert cells["tags"]["mlflow.note.content"] == 6
    assert cells["tags"]["mlflow.source.type"] == 1
    assert cells["artifacts"]["model.bin"] == 4
    assert cells["artifacts"]["environment.json"] == 1


# -- environment -----------------------------------------------------------------------------


def test_run_start_captures_the_environment(run_cell: Callable[[str], ExecutionResult]) -> None:
    _ok(run_cell("%track start env"))
    run_id = _run_id()
    client = nbtrack.TrackingClient()
    env = json.loads(client.read_artifact(run_id, "environment.json"))
    assert env["python"]["version"] == platform.python_version()
    assert isinstance(env["packages"], dict)
    assert "nbtrack" in env["packages"]
    tags = client.get_run(run_id).data.tags
    assert tags["nbtrack.python"] == platform.python_version()
    assert tags["nbtrack.platform"] == env["platform"]
    assert tags["nbtrack.host"] == env["hostname"]


def test_environment_capture_can_be_turned_off(
    run_cell: Callable[[str], ExecutionResult],
) -> None:
    _ok(run_cell("%config Tracker.capture_environment = False"))
    _ok(run_cell("%track start bare"))
    run_id = _run_id()
    client = nbtrack.TrackingClient()
    assert "environment.json" not in _artifact_paths(client, run_id)
    tags = client.get_run(run_id).data.tags
    assert "nbtrack.python" not in tags
    assert tags["mlflow.source.type"] == "NOTEBOOK"


# -- the hook never breaks a cell ------------------------------------------------------------


def test_hook_failures_are_logged_not_raised(
    run_cell: Callable[[str], ExecutionResult],
    store_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _ok(run_cell("%track start fragile"))
    run_id = _run_id()
    _ok(run_cell("loss = 1.0\n%track watch loss"))
    _ok(run_cell("loss = 0.5"))

    # The store becomes unusable: closed, and its directory replaced by a file,
    # so reopening it fails (as a vanished or unwritable disk would).
    close_all()
    aside = store_dir.with_name("aside")
    shutil.move(store_dir, aside)
    store_dir.write_text("not a store", encoding="utf-8")
    try:
        with caplog.at_level(logging.ERROR, logger=HOOK_LOG):
            first = run_cell("y = 2")
            second = run_cell("loss = 0.25\nz = y + 1")
        assert first.success
        assert second.success
    finally:
        store_dir.unlink()
        shutil.move(aside, store_dir)
    hook_records = [r for r in caplog.records if r.name == HOOK_LOG]
    messages = {r.getMessage() for r in hook_records}
    assert "nbtrack: could not record the start of a cell" in messages
    assert "nbtrack: could not record the end of a cell" in messages
    assert all(r.exc_info is not None for r in hook_records)

    # Once the store is back, recording resumes; what was logged before is intact.
    _ok(run_cell("loss = 0.125"))
    client = nbtrack.TrackingClient()
    assert [m.value for m in client.get_metric_history(run_id, "loss")] == [1.0, 0.5, 0.125]
    sources = [e.source for e in client.get_cell_timeline(run_id)]
    assert sources == [
        "%track start fragile",
        "loss = 1.0\n%track watch loss",
        "loss = 0.5",
        "loss = 0.125",
    ]


def test_hook_keeps_cells_running_with_a_stopped_writer(
    run_cell: Callable[[str], ExecutionResult],
) -> None:
    _ok(run_cell("%track start stopped"))
    run = nbtrack.active_run()
    assert run is not None
    _ok(run_cell("loss = 1.0\n%track watch loss"))
    run.client._store.writer.close()
    for value in (0.5, 0.25):
        _ok(run_cell(f"loss = {value}"))
    _ok(run_cell("x = 1"))
    close_all()  # reopened on next use, so that the run can still be ended
    _ok(run_cell("%track end"))


def test_settings_from_ipython_config_apply_at_load(shell: InteractiveShell) -> None:
    """`c.Tracker.<trait>` in ipython_config.py reaches the tracker through the shell's config."""
    shell.config.Tracker.auto_snapshot = False
    shell.config.Tracker.default_experiment = "from-config"
    try:
        assert shell.run_cell("%load_ext nbtrack").success
        tracker = _tracker(shell)
        assert tracker.auto_snapshot is False
        assert tracker.default_experiment == "from-config"
        assert tracker.record_timeline is True
    finally:
        shell.run_cell("%unload_ext nbtrack")
        shell.config.pop("Tracker", None)
