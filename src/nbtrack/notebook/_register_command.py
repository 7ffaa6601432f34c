"""``%track register``: log an in-memory model and register it (:mod:`nbtrack.registry`).

The registry is below the notebook layer; it is imported with this module, on
the first use of the sub-command (:mod:`nbtrack.notebook._subcommands`), so
loading the extension does not load models and the registry.
"""

from __future__ import annotations

import argparse

from nbtrack.notebook._subcommands import SubcommandContext, register_subcommand
from nbtrack.registry._notebook import log_and_register


def _register(context: SubcommandContext, args: argparse.Namespace) -> None:
    names = [args.variable] + ([args.example] if args.example else [])
    values = context.values(names)
    info = log_and_register(
        values[args.variable],
        args.name,
        flavor=args.flavor,
        artifact_path=args.artifact_path,
        input_example=values[args.example] if args.example else None,
        serialization="pickle" if args.pickle else None,
    )
    version = info.registered_model_version
    number = version.version if version is not None else "?"
    print(f"nbtrack: logged {info.model_uri} and registered {args.name!r} version {number}")


register_subcommand("register", _register)
