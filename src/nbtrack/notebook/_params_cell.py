"""Which names a ``%%track params`` cell assigns, found by parsing it.

Parsing (not diffing globals) means only what the cell itself sets becomes a
param: ``lr = 3e-4`` and ``batch: int = 64`` count; loop variables, imports,
names set inside functions or ``if`` blocks, and attribute or item
assignments do not. Values are read from the namespace after the cell ran,
and kept only when they are simple: numbers, strings, bools, None, and small
lists, tuples and dicts of those (JSON-encoded).

The same parsing reads the cells tagged ``parameters`` (papermill's
convention) of the notebook the JupyterLab extension sent
(:func:`notebook_params`): those cells may not have run, so a name the kernel
does not define takes the cell's literal value instead; the cell is never
executed.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

#: Largest JSON text a container param may take.
MAX_CONTAINER_JSON = 1000
#: papermill's tag for the cells that set a notebook's parameters.
PARAMETERS_TAG = "parameters"
#: The first line of a ``%%track params`` cell; its body is plain Python.
TRACK_PARAMS_MAGIC = "%%track params"


class NotSimpleError(ValueError):
    """A value that cannot be a param; the message says what it is."""


def assigned_names(source: str) -> list[str]:
    """Top-level simple assignment targets of ``source``, in order, without repeats.

    IPython syntax (magics, ``!shell``) is transformed away by the caller;
    a cell that does not parse yields no names.
    """
    tree = _parse(source)
    names: list[str] = []
    for target, _value in _assignments(tree.body):
        for name in _target_names(target):
            if name not in names and not name.startswith("_"):
                names.append(name)
    return names


def _parse(source: str) -> ast.Module:
    """``source`` parsed; an empty module when it is not valid Python."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):  # ValueError: a null byte in the source
        return ast.Module(body=[], type_ignores=[])


def _assignments(nodes: Iterable[ast.stmt]) -> Iterator[tuple[ast.expr, ast.expr]]:
    """``(target, value)`` of each assignment among ``nodes``: ``x = y = 1`` gives two."""
    for node in nodes:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                yield target, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            yield node.target, node.value


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


def collect(
    source: str, namespace: Mapping[str, Any], literals: Mapping[str, Any] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Params of a cell: ``({name: text}, [why each skipped name was skipped])``.

    A name missing from ``namespace`` takes its value from ``literals`` (see
    :func:`literal_values`) when given there: a cell that has not run.
    """
    params: dict[str, str] = {}
    skipped: list[str] = []
    for name in assigned_names(source):
        if name in namespace:
            value = namespace[name]
        elif literals is not None and name in literals:
            value = literals[name]
        elif literals is None:
            skipped.append(f"{name} is not defined after the cell ran")
            continue
        else:
            skipped.append(f"{name} is not defined in the kernel and its value is not a literal")
            continue
        try:
            params[name] = param_text(name, value)
        except NotSimpleError as exc:
            skipped.append(str(exc))
    return params, skipped


# -- cells tagged ``parameters`` ---------------------------------------------------------------


def literal_values(source: str) -> dict[str, Any]:
    """The values the top-level assignments of ``source`` leave, where they are literals.

    Found with :func:`ast.literal_eval`, so nothing runs: ``lr = 1e-3`` and
    ``a, b = 1, [2]`` give values, ``n = 2 ** 10`` or ``x = f()`` do not. A name
    last assigned (or augmented, ``n += 1``) by something that is not a
    literal has no value here.
    """
    values: dict[str, Any] = {}
    for node in _parse(source).body:
        if isinstance(node, ast.AugAssign):
            for name in _target_names(node.target):
                values.pop(name, None)
            continue
        for target, value in _assignments([node]):
            found = dict(_literal_pairs(target, value))
            for name in _target_names(target):
                if name in found:
                    values[name] = found[name]
                else:
                    values.pop(name, None)
    return values


def _literal_pairs(target: ast.expr, value: ast.expr) -> Iterator[tuple[str, Any]]:
    """``(name, value)`` for each name ``target = value`` binds to a literal."""
    if isinstance(target, ast.Name):
        try:
            yield target.id, ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return  # not a literal: the name gets no value
    elif (
        isinstance(target, ast.Tuple | ast.List)
        and isinstance(value, ast.Tuple | ast.List)
        and len(target.elts) == len(value.elts)
    ):
        for element, element_value in zip(target.elts, value.elts, strict=True):
            yield from _literal_pairs(element, element_value)


def cell_python(source: str, transform: Callable[[str], str] | None = None) -> str:
    """The Python of a notebook cell, for parsing only.

    A ``%%track params`` cell gives its body; a cell of any other cell magic
    (``%%bash``...) gives nothing, its body need not be Python. ``transform``
    (the shell's ``transform_cell``) turns the line magics and ``!shell``
    lines of IPython syntax into Python.
    """
    first, _, body = source.lstrip().partition("\n")
    if first.startswith("%%"):
        if first.split() != TRACK_PARAMS_MAGIC.split():
            return ""
        source = body
    if transform is None:
        return source
    try:
        return transform(source)
    except Exception:  # IPython's transformers on odd input: parse what was written
        return source


def tagged_sources(notebook: Mapping[str, Any]) -> list[str]:
    """The sources of the code cells tagged :data:`PARAMETERS_TAG`, in notebook order."""
    sources = []
    for cell in notebook.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and isinstance(tags, list) and PARAMETERS_TAG in tags:
            source = cell.get("source", "")
            sources.append(source if isinstance(source, str) else "".join(source))
    return sources


def notebook_params(
    notebook: Mapping[str, Any],
    namespace: Mapping[str, Any],
    transform: Callable[[str], str] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """Params of the notebook's ``parameters`` cells, as :func:`collect` gives them.

    Each top-level assignment counts, with its value from ``namespace`` (the
    kernel's, after whatever ran) when the name is there, else the literal
    the cell assigns. A later tagged cell wins over an earlier one.
    """
    params: dict[str, str] = {}
    skipped: list[str] = []
    for source in tagged_sources(notebook):
        code = cell_python(source, transform)
        found, why = collect(code, namespace, literal_values(code))
        params.update(found)
        skipped.extend(why)
    return params, skipped
