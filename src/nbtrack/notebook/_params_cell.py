"""Which names a ``%%track params`` cell assigns, found by parsing it.

Parsing (not diffing globals) means only what the cell itself sets becomes a
param: ``lr = 3e-4`` and ``batch: int = 64`` count; loop variables, imports,
names set inside functions or ``if`` blocks, and attribute or item
assignments do not. Values are read from the namespace after the cell ran,
and kept only when they are simple: numbers, strings, bools, None, and small
lists, tuples and dicts of those (JSON-encoded).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from typing import Any

#: Largest JSON text a container param may take.
MAX_CONTAINER_JSON = 1000


class NotSimpleError(ValueError):
    """A value that cannot be a param; the message says what it is."""


def assigned_names(source: str) -> list[str]:
    """Top-level simple assignment targets of ``source``, in order, without repeats.

    IPython syntax (magics, ``!shell``) is transformed away by the caller;
    a cell that does not parse yields no names.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        for target in targets:
            for name in _target_names(target):
                if name not in names and not name.startswith("_"):
                    names.append(name)
    return names


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):  # a, b = 1, 2
        return [n for element in target.elts for n in _target_names(element)]
    return []  # x.attr = ..., x[i] = ... are not params


def _is_simple(value: Any, depth: int = 0) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if depth > 2:
        return False
    if isinstance(value, list | tuple):
        return all(_is_simple(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_simple(v, depth + 1) for k, v in value.items())
    return False


def param_text(name: str, value: Any) -> str:
    """The stored text of a simple value; :class:`NotSimpleError` for anything else."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy scalar
    if not _is_simple(value):
        raise NotSimpleError(
            f"{name} is a {type(value).__name__}, not a number, string, bool, None "
            "or a small list/tuple/dict of those"
        )
    if isinstance(value, list | tuple | dict):
        text = json.dumps(value, allow_nan=True)
        if len(text) > MAX_CONTAINER_JSON:
            raise NotSimpleError(
                f"{name} is {len(text)} characters as JSON; the limit is {MAX_CONTAINER_JSON}"
            )
        return text
    return str(value)


def collect(source: str, namespace: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Params of a cell: ``({name: text}, [why each skipped name was skipped])``."""
    params: dict[str, str] = {}
    skipped: list[str] = []
    for name in assigned_names(source):
        if name not in namespace:
            skipped.append(f"{name} is not defined after the cell ran")
            continue
        try:
            params[name] = param_text(name, namespace[name])
        except NotSimpleError as exc:
            skipped.append(str(exc))
    return params, skipped
