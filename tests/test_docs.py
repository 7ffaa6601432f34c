"""Docs coverage: every `%track` sub-command and setting is in the README."""

from __future__ import annotations

from pathlib import Path

from nbtrack.notebook._magics import PARSER
from nbtrack.notebook._tracker import Tracker

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_every_track_subcommand_is_documented() -> None:
    actions = [a for a in PARSER._actions if a.dest == "command"]
    commands = list(actions[0].choices)
    assert "start" in commands
    for command in commands:
        assert f"`%track {command}" in README or f"/ `%track {command}" in README, command
    assert "`%%track params`" in README


def test_every_tracker_setting_is_documented_with_help() -> None:
    for name, trait in Tracker.class_traits(config=True).items():
        assert trait.help, f"Tracker.{name} has no help text"
        assert f"`Tracker.{name}`" in README, f"Tracker.{name} is not in the README"
