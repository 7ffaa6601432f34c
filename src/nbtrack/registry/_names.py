"""Checks of what users name in the registry: model names, aliases, version numbers."""

from __future__ import annotations

import re
from typing import Any

from nbtrack.exceptions import InvalidInputError

_ALIAS = re.compile(r"^[\w\-]+$")
_VERSION_ALIAS = re.compile(r"^v\d+$", re.IGNORECASE)
MAX_NAME_LENGTH = 256


def model_name(name: Any) -> str:
    """A registered model name: 1-256 characters, none of ``/ @ :`` (they end URIs)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"model name must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"model name is {len(name)} characters; the limit is 256")
    bad = sorted({c for c in name if c in "/@:" or not c.isprintable()})
    if bad or name != name.strip():
        shown = "".join(bad) or "leading or trailing spaces"
        raise InvalidInputError(
            f"model name {name!r} contains {shown!r}; names appear in URIs such as "
            "models:/NAME@ALIAS, so use letters, digits, '-', '_', '.' and spaces"
        )
    return name


def alias_name(alias: Any) -> str:
    """An alias: letters, digits, ``_`` and ``-``; not ``latest`` nor ``v<number>``."""
    if not isinstance(alias, str) or not _ALIAS.match(alias) or len(alias) > MAX_NAME_LENGTH:
        raise InvalidInputError(
            f"alias {alias!r} must be 1-256 letters, digits, '_' or '-', e.g. 'champion'"
        )
    if alias.lower() == "latest" or _VERSION_ALIAS.match(alias):
        raise InvalidInputError(
            f"alias {alias!r} is reserved (it reads as a version in models:/ URIs)"
        )
    return alias


def parse_version(version: int | str) -> int:
    """A version number from ``3`` or ``'3'``."""
    try:
        number = int(str(version).strip())
    except ValueError:
        number = 0
    if number < 1:
        raise InvalidInputError(f"model version {version!r} is not a version number (1, 2, ...)")
    return number
