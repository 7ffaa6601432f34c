"""Cells tagged ``parameters`` in the live notebook become params when a run starts.

The parsing is unit-tested; the capture runs in a real IPython shell with the
frontend's notebook delivered over the ``comm`` package's real ``CommManager``
(see ``_comm_helpers``). A real kernel does it in ``test_comm_run_status``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from comm.base_comm import CommManager

import nbtrack
from _comm_helpers import (
    HELLO,
    channel_in,
    frontend_opens,
    frontend_sends,
    make_notebook,
    notebook_message,
)
from nbtrack import fluent
from nbtrack.notebook import Tracker
from nbtrack.notebook._params_cell import (
    cell_python,
    literal_values,
    notebook_params,
    tagged_sources,
)

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

# -- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "values"),
    [
        ("lr = 1e-3\nname = 'adam'\nflag = True\nnothing = None", None),
        ("layers = [64, {'act': 'relu'}]\nneg = -2", {"layers": [64, {"act": "relu"}], "neg": -2}),
        ("a, b = 1, (2, 3)", {"a": 1, "b": (2, 3)}),
        ("[a, b] = 1, 2\nx = y = 's'", {"a": 1, "b": 2, "x": "s", "y": "s"}),
        ("epochs: int = 10\nbare: int", {"epochs": 10}),
        ("n = 2 ** 10\nm = f()\np = Path('x')", {}),
        ("lr = 0.1\nlr = schedule()", {}),  # the last assignment is not a literal
        ("lr = schedule()\nlr = 0.1", {"lr": 0.1}),
        ("n = 0\nn += 1", {}),  # augmented: its value is computed
        ("a, b = pair", {}),
        ("a, *rest = 1, 2", {"a": 1}),
        ("lr = = 1", {}),
        ("x = 1\0", {}),
    ],
)
def test_literal_values(source: str, values: dict[str, Any] | None) -> None:
    expected = (
        {"lr": 1e-3, "name": "adam", "flag": True, "nothing": None} if values is None else values
    )
    assert literal_values(source) == expected


def test_literal_values_never_run_the_cell(tmp_path: Path) -> None:
    flag = tmp_path / "ran.txt"
    source = f"handle = open({str(flag)!r}, 'w')\nsize = len(open({str(flag)!r}, 'w').name)"
    assert literal_values(source) == {}
    assert not flag.exists()


@pytest.mark.parametrize(
    ("source", "python"),
    [
        ("lr = 0.1", "lr = 0.1"),
        ("%%track params\nlr = 0.1\nbatch = 2", "lr = 0.1\nbatch = 2"),
        ("\n  %%track   params\nlr = 0.1", "lr = 0.1"),
        ("%%bash\nx=1", ""),  # another cell magic: its body need not be Python
        ("%%timeit\nx = 1", ""),
    ],
)
def test_cell_python(source: str, python: str) -> None:
    assert cell_python(source) == python


def test_cell_python_transforms_ipython_syntax(ip: InteractiveShell) -> None:
    code = cell_python("%%track params\n%matplotlib inline\nlr = 0.1", ip.transform_cell)
    assert "run_line_magic('matplotlib', 'inline')" in code
    assert literal_values(code) == {"lr": 0.1}

    def broken(source: str) -> str:
        raise ValueError("odd input")

    assert cell_python("lr = 0.1", broken) == "lr = 0.1"


def test_tagged_sources() -> None:
    notebook = make_notebook(
        "import x",
        "lr = 0.1",
        "batch = 2",
        "epochs = 3",
        tags={1: ["parameters"], 2: ["other"], 3: ["injected-parameters", "parameters"]},
    )
    tagged = {"tags": ["parameters"]}
    notebook["cells"].append(
        {"id": "md", "cell_type": "markdown", "source": "a = 1", "metadata": tagged}
    )
    notebook["cells"].append(
        {
            "id": "lines",
            "cell_type": "code",
            "source": ["x = 1\n", "y = 2"],  # the file form
            "metadata": tagged,
            "outputs": [],
            "execution_count": None,
        }
    )
    assert tagged_sources(notebook) == ["lr = 0.1", "epochs = 3", "x = 1\ny = 2"]
    assert tagged_sources({"cells": []}) == []


def test_notebook_params_prefer_the_kernel_value() -> None:
    notebook = make_notebook(
        "lr = 0.1\nbatch = 32\nmodel = build()\nopt = make_opt()\nlayers = [1, 2]",
        "lr = 0.2\nseed = 7",
        tags={0: ["parameters"], 1: ["parameters"]},
    )
    namespace = {"batch": 64, "model": object(), "layers": [3]}
    params, skipped = notebook_params(notebook, namespace)
    assert params == {"lr": "0.2", "batch": "64", "layers": "[3]", "seed": "7"}
    assert skipped == [
        "model is a object, not a number, string, bool, None or a small list/tuple/dict of those",
        "opt is not defined in the kernel and its value is not a literal",
    ]
    assert notebook_params(make_notebook("lr = 0.1"), {}) == ({}, [])


# -- capture when a run starts ---------------------------------------------------------


@pytest.fixture
def tracker(ip: InteractiveShell, manager: CommManager) -> Iterator[Tracker]:
    """The loaded extension's tracker, its channel registered with ``manager``."""
    with channel_in(ip, manager) as found:
        yield found
        found.capture_parameters = True


def frontend_has(manager: CommManager, *sources: str, tagged: int = 0) -> None:
    """The frontend connects and sends a notebook whose cell ``tagged`` is tagged."""
    opened = frontend_opens(manager, HELLO)
    notebook = make_notebook(*sources, tags={tagged: ["parameters"]})
    frontend_sends(manager, opened, notebook_message(notebook))


def cell(shell: InteractiveShell, code: str) -> str:
    """Run a cell; what it printed."""
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        result = shell.run_cell(code)
    assert result.success, result.error_in_exec or result.error_before_exec
    return captured.stdout


def params_of_active_run() -> dict[str, str]:
    active = fluent.active_run()
    assert active is not None
    active.client.flush()
    return active.data.params


def test_track_start_logs_the_parameters_cell(
    ip: InteractiveShell, manager: CommManager, tracker: Tracker, tmp_path: Path
) -> None:
    flag = tmp_path / "ran.txt"
    frontend_has(
        manager,
        "%load_ext nbtrack",
        f"lr = 3e-4\nbatch_size = 64\nname = 'adam'\nhandle = open({str(flag)!r}, 'w')",
        "import nbtrack",
        tagged=1,
    )
    cell(ip, "batch_size = 128")  # set in the kernel: its value wins over the cell's
    cell(ip, "%track start")
    assert params_of_active_run() == {"lr": "0.0003", "batch_size": "128", "name": "adam"}
    assert not flag.exists()  # the cell was parsed, never run


@pytest.mark.parametrize(
    ("notebooks", "params"),
    [
        ([["lr = 0.1"], ["lr = 0.5  # edited, not saved, not run"]], {"lr": "0.5"}),
        ([["%%bash\nlr=1", "epochs = 3"]], {}),  # another cell magic; epochs is not tagged
    ],
    ids=["the latest notebook counts", "untagged and other magics"],
)
def test_what_the_frontend_sent_counts(
    ip: InteractiveShell,
    manager: CommManager,
    tracker: Tracker,
    notebooks: list[list[str]],
    params: dict[str, str],
) -> None:
    for sources in notebooks:
        frontend_has(manager, *sources)
    cell(ip, "%track start")
    assert params_of_active_run() == params


def test_a_resumed_run_keeps_its_params(
    ip: InteractiveShell, manager: CommManager, tracker: Tracker
) -> None:
    with nbtrack.start_run() as first:
        nbtrack.log_param("lr", "0.1")
    run_id = first.info.run_id
    frontend_has(manager, "lr = 0.9\nepochs = 3")
    cell(ip, f"%track start --resume {run_id}")
    assert params_of_active_run() == {"lr": "0.1", "epochs": "3"}


def test_a_track_params_cell_tagged_parameters(
    ip: InteractiveShell, manager: CommManager, tracker: Tracker, client: nbtrack.TrackingClient
) -> None:
    source = "%%track params\nlr = 0.01\nepochs = 5"
    frontend_has(manager, source.replace("0.01", "0.02"))  # the frontend's copy lags behind
    out = cell(ip, source)  # no run yet: the cell starts one, its own values win
    assert "params changed" not in out
    assert params_of_active_run() == {"lr": "0.01", "epochs": "5"}
    assert len(client.search_runs(["0"])) == 1  # one run, in the Default experiment


def test_nothing_is_captured_without_a_notebook_or_when_turned_off(
    ip: InteractiveShell, manager: CommManager, tracker: Tracker
) -> None:
    cell(ip, "%track start")  # the frontend sent no notebook yet
    assert params_of_active_run() == {}
    frontend_has(manager, "lr = 0.1")
    cell(ip, "%config Tracker.capture_parameters = False")
    cell(ip, "%track start")
    assert params_of_active_run() == {}
    cell(ip, "%config Tracker.capture_parameters = True")
    cell(ip, "%track start")
    assert params_of_active_run() == {"lr": "0.1"}
