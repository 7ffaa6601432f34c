"""The small YAML subset nbtrack writes ``MLmodel`` files in, without a YAML library.

Writing: block mappings with plain keys (identifier-like) or double-quoted
keys, and every value a JSON literal (strings, integers, booleans, null,
flow lists and flow mappings). JSON literals are valid YAML flow scalars, so
MLflow's ``yaml.safe_load`` reads the result as the same structure. Floats
are refused: PyYAML reads ``1e-05`` as a string, and nothing here needs one.

Reading: that subset, plus plain (unquoted) scalars read as strings, so
that a block-style file written by MLflow can be recognised as not ours.
Anything else (block lists, anchors, ...) raises :class:`ModelFormatError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from nbtrack.models._errors import ModelFormatError

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INDENT = 2


def dump(data: Mapping[str, Any]) -> str:
    """``data`` as YAML text in nbtrack's subset (see the module docstring)."""
    lines: list[str] = []
    _emit(data, 0, lines)
    return "\n".join(lines) + "\n"


def _emit(mapping: Mapping[str, Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise TypeError(f"MLmodel keys are strings, got {key!r}")
        shown = key if _PLAIN_KEY.fullmatch(key) else json.dumps(key)
        if isinstance(value, Mapping) and value:
            lines.append(f"{pad}{shown}:")
            _emit(value, indent + _INDENT, lines)
        else:
            _check_scalars(value)
            lines.append(f"{pad}{shown}: {json.dumps(value, ensure_ascii=True)}")


def _check_scalars(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError(f"MLmodel values are not floats here ({value!r}); store a string")
    if isinstance(value, Mapping):
        for item in value.values():
            _check_scalars(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_scalars(item)


def load(text: str, *, source: str = "MLmodel") -> dict[str, Any]:
    """Parse text written by :func:`dump`; :class:`ModelFormatError` for anything else."""
    root: dict[str, Any] = {}
    # (indentation of the mapping's keys, the mapping)
    stack: list[tuple[int, dict[str, Any]]] = [(0, root)]
    pending: tuple[int, dict[str, Any], str] | None = None
    decoder = json.JSONDecoder()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        body = raw[indent:]
        if pending is not None:
            parent_indent, parent, key = pending
            pending = None
            if indent <= parent_indent:
                raise _bad(source, number, f"{key!r} has no value")
            child: dict[str, Any] = {}
            parent[key] = child
            stack.append((indent, child))
        while stack[-1][0] > indent:
            stack.pop()
        if stack[-1][0] != indent:
            raise _bad(source, number, "unexpected indentation")
        target = stack[-1][1]
        try:
            key, has_value, value = _entry(body, decoder)
        except ValueError as exc:
            raise _bad(source, number, str(exc)) from None
        if has_value:
            target[key] = value
        else:
            pending = (indent, target, key)
    if pending is not None:
        raise _bad(source, number, f"{pending[2]!r} has no value")
    return root


def _entry(body: str, decoder: json.JSONDecoder) -> tuple[str, bool, Any]:
    """``(key, has_value, value)`` of a ``key: value`` line (no value: a mapping follows)."""
    if body.startswith('"'):
        key, end = decoder.raw_decode(body)
    else:
        match = _PLAIN_KEY.match(body)
        if match is None:
            raise ValueError("expected a key")
        key, end = match.group(), match.end()
    if not body[end:].startswith(":"):
        raise ValueError("expected ':' after the key")
    rest = body[end + 1 :].strip()
    if not rest:
        return key, False, None
    try:
        return key, True, json.loads(rest)
    except ValueError:
        if rest[0] in '"[{':
            raise
        return key, True, rest  # a plain YAML scalar (files not written by nbtrack)


def _bad(source: str, line: int, why: str) -> ModelFormatError:
    return ModelFormatError(
        f"{source}, line {line}: {why}. nbtrack reads the MLmodel files it writes; "
        "load a model written by MLflow itself with mlflow.pyfunc.load_model"
    )
