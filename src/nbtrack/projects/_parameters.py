"""A notebook's parameters: the ``parameters`` cell, typed values, the injected cell.

papermill's convention: the cell tagged ``parameters`` holds the defaults; a
run's values go into a new cell right after it (tagged ``injected-parameters``),
or at the top when no cell is tagged. The parameters cell is parsed with
:mod:`ast`, never executed: ``epochs = 10`` makes ``epochs`` an int parameter,
and ``-p epochs=20`` is injected as ``20``, not ``"20"``.

A parameters cell that is a ``%%track params`` cell would log its defaults as
params, which then clash with the injected values; in the executed copy the
magic moves to the injected cell, so the kernel logs the values in force.
"""

from __future__ import annotations

import ast
import copy
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from nbtrack.exceptions import InvalidInputError
from nbtrack.notebook._params_cell import PARAMETERS_TAG, TRACK_PARAMS_MAGIC

INJECTED_TAG = "injected-parameters"
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_CONTAINERS = (list, tuple, dict, set)


class _Unparsed:
    """The default of a parameter whose value is not a Python literal (``Path("data")``)."""

    def __repr__(self) -> str:
        return "<not a literal>"


UNPARSED: Any = _Unparsed()


@dataclass(frozen=True, slots=True)
class Parameter:
    """One name the parameters cell assigns: its default and the default's source."""

    name: str
    default: Any
    source: str

    @property
    def typed(self) -> bool:
        """Whether the default is a literal, so injected values take its type."""
        return self.default is not UNPARSED


@dataclass(frozen=True, slots=True)
class NotebookParameters:
    """The parameters cell of a notebook (``cell_index`` None: there is none)."""

    cell_index: int | None
    parameters: dict[str, Parameter]
    track_params: bool = False

    def defaults(self) -> dict[str, Any]:
        """The literal defaults, by name."""
        return {k: p.default for k, p in self.parameters.items() if p.typed}


def _strip_magics(source: str) -> str:
    """The Python of a cell: a leading cell magic line dropped, line magics transformed."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        lines = lines[1:]
    body = "\n".join(lines)
    try:
        ast.parse(body)
    except SyntaxError:
        from IPython.core import inputtransformer2

        module: Any = inputtransformer2  # untyped
        return str(module.TransformerManager().transform_cell(body))
    return body


def find_parameters(notebook: NotebookNode) -> NotebookParameters:
    """Parse the first cell tagged ``parameters`` (papermill's convention)."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or PARAMETERS_TAG not in cell.metadata.get("tags", []):
            continue
        try:
            tree = ast.parse(_strip_magics(cell.source))
        except SyntaxError as exc:
            raise InvalidInputError(
                f"the parameters cell (cell {index}) is not valid Python: {exc.msg} "
                f"(line {exc.lineno}); fix it so its defaults can be read"
            ) from None
        found: dict[str, Parameter] = {}
        for node in tree.body:
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = list(node.targets)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets = [node.target]
            value = getattr(node, "value", None)
            for target in targets:
                if isinstance(target, ast.Name) and isinstance(value, ast.expr):
                    found[target.id] = Parameter(target.id, _literal(value), ast.unparse(value))
        first_line = cell.source.lstrip().split("\n", 1)[0].strip()
        return NotebookParameters(index, found, track_params=first_line == TRACK_PARAMS_MAGIC)
    return NotebookParameters(None, {})


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return UNPARSED


def _infer(text: str) -> Any:
    """A value of unknown type: a Python literal if it is one, else the text."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    raise ValueError(text)


#: How ``-p`` text becomes a scalar of the default's type, and what to call that type.
_SCALARS: dict[type, tuple[Any, str]] = {
    bool: (_parse_bool, "a bool: use true or false"),
    int: (lambda text: int(text, 0), "an int"),
    float: (float, "a number"),
}


def parse_text(name: str, text: str, declared: Parameter | None) -> Any:
    """``-p name=text`` as a value of the declared parameter's type."""
    if declared is None or not declared.typed or declared.default is None:
        return _infer(text)
    default = declared.default
    if isinstance(default, str):
        return text
    hint = f"{name} is {_type_name(default)} in the notebook ({name} = {declared.source})"
    scalar = _SCALARS.get(type(default))
    if scalar is not None:
        parse, what = scalar
        try:
            return parse(text.strip())
        except ValueError:
            raise InvalidInputError(f"{hint}; {text!r} is not {what}") from None
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise InvalidInputError(f"{hint}; {text!r} is not a Python literal") from None
    if isinstance(value, str):
        raise InvalidInputError(f"{hint}; got the string {value!r}")
    return coerce(name, value, declared)


_MISMATCH: Any = object()


def _convert(value: Any, default: Any) -> Any:
    """``value`` as the type of ``default`` where that is safe, else :data:`_MISMATCH`."""
    if isinstance(default, bool) or isinstance(value, bool):  # bool is an int: check first
        both = isinstance(default, bool) and isinstance(value, bool)
        return value if both else _MISMATCH
    if isinstance(default, float) and isinstance(value, int | float):
        return float(value)
    if isinstance(default, tuple | set) and isinstance(value, list | tuple | set):
        return type(default)(value)
    return value if isinstance(value, type(default)) else _MISMATCH


def coerce(name: str, value: Any, declared: Parameter | None) -> Any:
    """A Python value for parameter ``name``, converted to the declared type where safe.

    Strings are parsed as by ``-p`` (:func:`parse_text`); an int is accepted
    for a float; a list for a tuple or set. Anything else of another type is
    an error that names the parameter and both types.
    """
    if isinstance(value, str):
        return parse_text(name, value, declared)
    if declared is None or not declared.typed or declared.default is None or value is None:
        return value
    converted = _convert(value, declared.default)
    if converted is _MISMATCH:
        raise InvalidInputError(
            f"{name} is {_type_name(declared.default)} in the notebook "
            f"({name} = {declared.source}); got {_type_name(value)} {value!r}"
        )
    return converted


def resolve(
    declared: NotebookParameters,
    given: Mapping[str, Any],
    *,
    allow_new: bool = False,
    notebook_name: str = "the notebook",
) -> dict[str, Any]:
    """The values to inject, typed; a name the notebook does not define is an error."""
    unknown = [name for name in given if name not in declared.parameters]
    if unknown and not allow_new:
        names = ", ".join(repr(n) for n in unknown)
        if declared.cell_index is None:
            raise InvalidInputError(
                f"{notebook_name} has no cell tagged 'parameters', so it defines no parameter "
                f"{names}; tag the cell that sets the defaults 'parameters', or pass "
                "--allow-new (allow_new=True) to inject it anyway"
            )
        known = ", ".join(declared.parameters) or "none"
        raise InvalidInputError(
            f"{notebook_name} defines no parameter {names} (its parameters cell sets: {known}); "
            "check the spelling, or pass --allow-new (allow_new=True) to inject it anyway"
        )
    values: dict[str, Any] = {}
    for name, value in given.items():
        if not name.isidentifier():
            raise InvalidInputError(f"parameter name {name!r} is not a Python identifier")
        values[name] = coerce(name, value, declared.parameters.get(name))
    return values


def literal_source(value: Any) -> str:
    """Python source that evaluates to ``value`` (non-finite floats included)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    return repr(value)


def inject(
    notebook: NotebookNode, values: Mapping[str, Any], declared: NotebookParameters
) -> NotebookNode:
    """A copy of ``notebook`` with ``values`` in a new cell after the parameters cell.

    Cells injected by an earlier run are removed first, so re-running an
    executed notebook does not stack them.
    """
    result = copy.deepcopy(notebook)
    params_id = (
        notebook.cells[declared.cell_index].get("id") if declared.cell_index is not None else None
    )
    result.cells = [c for c in result.cells if INJECTED_TAG not in c.metadata.get("tags", [])]
    if not values:
        return result
    lines = ["# Parameters injected by nbtrack run"]
    lines += [f"{name} = {literal_source(value)}" for name, value in values.items()]
    position = 0
    for index, cell in enumerate(result.cells):
        if PARAMETERS_TAG in cell.metadata.get("tags", []) and (
            params_id is None or cell.get("id") == params_id
        ):
            position = index + 1
            if declared.track_params:
                # The kernel logs the values in force, not the defaults (see the module doc).
                cell.source = cell.source.lstrip().partition("\n")[2]
                lines.insert(0, TRACK_PARAMS_MAGIC)
            break
    v4: Any = nbformat.v4  # untyped
    injected = v4.new_code_cell("\n".join(lines), metadata={"tags": [INJECTED_TAG]})
    result.cells.insert(position, injected)
    return result


def parse_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """``["lr=0.1", "name=a b"]`` as ``{"lr": "0.1", "name": "a b"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInputError(f"expected NAME=VALUE, got {pair!r} (e.g. -p lr=0.1)")
        out[name.strip()] = text
    return out


def load_file(path: str | Path) -> dict[str, Any]:
    """Parameters from a YAML (``.yaml``/``.yml``, needs PyYAML) or JSON file: a mapping."""
    file = Path(path)
    if not file.is_file():
        raise InvalidInputError(f"parameters file {file} does not exist")
    text = file.read_text(encoding="utf-8")
    if file.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            raise InvalidInputError(
                f"reading {file} needs PyYAML: pip install pyyaml, or use a .json file"
            ) from None
        data = yaml.safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise InvalidInputError(f"{file} must hold a mapping of parameter names to values")
    return dict(data)
