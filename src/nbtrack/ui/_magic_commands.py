"""The panels' ``%track`` sub-commands: ``runs``, ``compare``, ``live`` and ``models``.

Registered with the notebook's magics (:mod:`nbtrack.notebook._subcommands`) when
the magics first need one of them: the notebook layer never imports the ui.
"""

from __future__ import annotations

import argparse

from nbtrack import ui
from nbtrack.notebook._subcommands import SubcommandContext, register_subcommand
from nbtrack.ui._display import show


def _runs(_context: SubcommandContext, args: argparse.Namespace) -> None:
    experiment = args.experiment.strip("'\"") if args.experiment else None
    show(ui.runs(" ".join(args.filter) or None, experiment=experiment))


def _compare(_context: SubcommandContext, args: argparse.Namespace) -> None:
    show(ui.compare(args.runs or None, metric=args.metric))


def _live(_context: SubcommandContext, args: argparse.Namespace) -> None:
    ui.live(args.keys, run=args.run, interval=args.interval)


def _models(_context: SubcommandContext, args: argparse.Namespace) -> None:
    show(ui.registry(args.name))


register_subcommand("runs", _runs)
register_subcommand("compare", _compare)
register_subcommand("live", _live)
register_subcommand("models", _models)
