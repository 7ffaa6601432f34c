"""The command line, driven through click's CliRunner against a real store."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack.cli import main

README = Path(__file__).parents[1] / "README.md"


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found.update(_commands(command, full + " "))
        else:
            found[full] = command
    return found


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_logs_runs_and_prints_the_table(store_dir: Path) -> None:
    out = invoke("demo")
    assert "Logged 3 runs to experiment 'demo'" in out
    assert "metrics.val_loss" in out
    assert "params.lr" in out
    runs = nbtrack.TrackingClient(store_dir).search_runs(
        [nbtrack.get_experiment_by_name("demo").experiment_id]
    )
    assert len(runs) == 3
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert all(len(r.data.metrics) == 2 for r in runs)


def test_runs_list_filters_and_orders(store_dir: Path) -> None:
    invoke("demo", "--runs", "4")
    out = invoke("runs", "list", "-e", "demo", "--filter", "params.lr = '0.1' or params.lr = '0.3'")
    assert "linreg-lr0.1" in out
    assert "linreg-lr0.3" in out
    assert "linreg-lr0.03" not in out
    ordered = invoke("runs", "list", "--order-by", "metrics.val_loss DESC")
    names = re.findall(r"linreg-lr[0-9.]+", ordered)
    assert names[0] == "linreg-lr0.01"  # the slowest learning rate ends worst
    assert "No runs match." in invoke("runs", "list", "--filter", "metrics.val_loss < -1")


def test_runs_show_by_prefix(store_dir: Path) -> None:
    invoke("demo", "--runs", "1")
    run = nbtrack.search_runs(search_all_experiments=True, output_format="list")[0]
    out = invoke("runs", "show", run.info.run_id[:6])
    assert run.info.run_id in out
    assert "val_loss" in out
    assert "model/weights.json" in out
    assert "FINISHED" in out
    assert f"  store       {store_dir.resolve()}\n" in out


def test_experiments_list_and_gc(store_dir: Path) -> None:
    invoke("demo", "--runs", "2")
    out = invoke("experiments", "list")
    assert re.search(r"demo\s+active\s+2", out)
    run_id = nbtrack.search_runs(experiment_names=["demo"])["run_id"][0]
    nbtrack.delete_run(run_id)
    assert "Removed 1 deleted run(s)" in invoke("gc", "--grace", "0")
    assert "demo     active  1" in invoke("experiments", "list")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "list", "--filter", "metrics.x >"], "missing value after '>'"),
        (["runs", "list", "-e", "nope"], "no experiment named 'nope'"),
        (["runs", "show", "zz"], "is not a run id"),
        (["runs", "show", "abcdef"], "no run id starts with 'abcdef'"),
    ],
)
def test_errors_are_one_clear_line(
    client: nbtrack.TrackingClient, args: list[str], message: str
) -> None:
    client.search_experiments()  # the store exists (reading commands never create it)
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_exit_codes_follow_one_scheme(client: nbtrack.TrackingClient) -> None:
    experiment = client.create_experiment("codes")
    by_first: dict[str, list[str]] = {}
    while not any(len(ids) > 1 for ids in by_first.values()):  # at most 17 runs
        run_id = client.create_run(experiment).info.run_id
        by_first.setdefault(run_id[0], []).append(run_id)
    shared = next(first for first, ids in by_first.items() if len(ids) > 1)
    unused = next(c for c in "0123456789abcdef" if c not in by_first)

    def code(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, list(args))
        assert "Traceback" not in result.output
        return result.exit_code, result.output

    # 1: well-formed, but names no single run (none, or several).
    assert code("runs", "show", unused) == (1, f"Error: no run id starts with {unused!r}\n")
    exit_code, output = code("runs", "show", shared)
    assert exit_code == 1
    assert "matches several runs; give more characters" in output
    # 2: the command line itself is wrong.
    assert code("runs", "show", "zz")[0] == 2
    exit_code, output = code("runs", "list", "--max-results", "-1")
    assert exit_code == 2
    assert "-1 is not in the range x>=1" in output
    assert code("runs", "list", "--max-results", "0")[0] == 2
    assert code("models", "list", "--max-results", "-1")[0] == 2
    assert code("runs", "show", by_first[shared][0])[0] == 0


def test_every_command_has_an_example_and_is_documented() -> None:
    readme = README.read_text()
    for name, command in _commands(main).items():
        assert "Example:" in (command.help or ""), f"`nbtrack {name} --help` has no example"
        assert f"`nbtrack {name}" in readme, f"`nbtrack {name}` is not in the README"


def test_readme_opens_with_the_two_commands() -> None:
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text()
    commands = re.findall(r"^(pip install[^#\n]*?)\s*(?:#.*)?$", README.read_text(), re.MULTILINE)
    assert commands[:2] == [
        "pip install -e . && nbtrack demo",
        'pip install -e ".[test]" && pytest',
    ]
    assert commands[1] in ci


def test_python_dash_m_nbtrack_is_the_command_line(tmp_path: Path) -> None:
    # For an environment whose scripts directory is not on PATH.
    result = subprocess.run(
        [sys.executable, "-m", "nbtrack", "--tracking-uri", str(tmp_path / "none"), "runs", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert f"no store at {tmp_path / 'none'}" in result.stderr + result.stdout
    assert not (tmp_path / "none").exists()
    usage = subprocess.run(
        [sys.executable, "-m", "nbtrack", "--help"], capture_output=True, text=True, check=True
    )
    assert usage.stdout.startswith("Usage: nbtrack ")
