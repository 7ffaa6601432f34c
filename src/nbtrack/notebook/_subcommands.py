"""``%track`` sub-commands that other packages own: the panels of :mod:`nbtrack.ui`, the registry.

The notebook layer sits below ``nbtrack.ui`` (layers in pyproject.toml), so the
magics never import it: a package registers its handlers here with
:func:`register_subcommand` when its provider module is imported, and the magics
import that module by name on the first use of one of its sub-commands (a plug-in
lookup, like an entry point). Loading the extension imports no pandas, Altair or
widgets. The arguments of each sub-command stay in the magics' parser, so
``%track -h`` lists them all without importing a provider.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from nbtrack.exceptions import NbtrackError


class SubcommandContext(Protocol):
    """What a handler may ask of the magics that called it."""

    def values(self, names: Sequence[str]) -> dict[str, Any]:
        """The user's variables ``names`` (a UsageError naming those not defined)."""
        ...


#: ``handler(context, args)``: ``args`` as parsed by the ``%track`` parser.
SubcommandHandler = Callable[[SubcommandContext, argparse.Namespace], None]

#: The module that registers each sub-command when imported.
PROVIDERS: dict[str, str] = {
    "runs": "nbtrack.ui._magic_commands",
    "compare": "nbtrack.ui._magic_commands",
    "live": "nbtrack.ui._magic_commands",
    "models": "nbtrack.ui._magic_commands",
    "register": "nbtrack.notebook._register_command",
}

_handlers: dict[str, SubcommandHandler] = {}


def register_subcommand(name: str, handler: SubcommandHandler) -> None:
    """Run ``handler`` for ``%track NAME`` (called by the provider module at import)."""
    _handlers[name] = handler


def handler_for(name: str) -> SubcommandHandler:
    """The handler of ``%track NAME``, importing its provider on first use."""
    if name not in _handlers and name in PROVIDERS:
        importlib.import_module(PROVIDERS[name])
    try:
        return _handlers[name]
    except KeyError:
        raise NbtrackError(
            f"no handler for %track {name}: {PROVIDERS.get(name, 'no module')} did not "
            "register one (reinstall nbtrack)"
        ) from None
