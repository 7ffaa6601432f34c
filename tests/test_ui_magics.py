"""``%track runs``, ``%track compare`` and ``%track live`` in IPython's test shell."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("altair")
pytest.importorskip("ipywidgets")

from IPython.core.interactiveshell import InteractiveShell

import nbtrack
from _ui_helpers import make_runs
from nbtrack.ui import _compare


def test_track_runs_with_a_quoted_filter(
    ip: InteractiveShell, client: nbtrack.TrackingClient, capsys: pytest.CaptureFixture[str]
) -> None:
    make_runs(client, 3)
    capsys.readouterr()
    result = ip.run_cell("%track runs params.lr = '0.2' -e ui")
    assert result.success, result.error_in_exec
    table = _compare.LAST_TABLE
    assert table is not None
    assert table.filter_string == "params.lr = '0.2'"
    assert [r.info.run_name for r in table.page.runs] == ["run-1"]
    assert "run-1" in capsys.readouterr().out  # no widget frontend here: a text table


def test_track_runs_bad_filter_is_a_usage_error(
    ip: InteractiveShell, client: nbtrack.TrackingClient
) -> None:
    make_runs(client, 1)
    result = ip.run_cell("%track runs metrics.loss >")
    assert not result.success
    assert "missing value" in str(result.error_in_exec)


def test_track_compare_defaults_to_the_table_selection(
    ip: InteractiveShell, client: nbtrack.TrackingClient, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = make_runs(client, 3)
    assert ip.run_cell("%track runs").success
    table = _compare.LAST_TABLE
    assert table is not None
    table.select(ids[0])
    table.select(ids[2])
    capsys.readouterr()
    assert ip.run_cell("%track compare --metric loss").success
    out = capsys.readouterr().out
    assert "params that differ" in out
    assert "run-2" in out
    assert "run-1" not in out
    assert ip.run_cell(f"%track compare {ids[0]} {ids[1]}").success


def test_track_live_follows_the_active_run(ip: InteractiveShell) -> None:
    assert ip.run_cell("%track start trainer").success
    assert ip.run_cell("import nbtrack; nbtrack.log_metric('loss', 0.5)").success
    assert ip.run_cell("%track live loss --interval 0.2").success
    assert ip.run_cell("%track end").success


def test_load_ext_stays_light() -> None:
    code = (
        "import sys; from IPython.testing.globalipapp import start_ipython; "
        "ip = start_ipython(); ip.run_line_magic('load_ext', 'nbtrack'); "
        "print(','.join(m for m in ('altair', 'ipywidgets', 'pandas', 'nbtrack.ui') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1:] in ([], [""])
