"""A model's files as a store holds them: what ``runs:/`` and ``models:/`` URIs resolve to.

Its own module so that :mod:`._uris` (which resolves) and :mod:`._registry_hooks`
(through which the registry resolves ``models:/``) don't import each other.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``(path relative to the model directory, sha256, size)``
FileRow = tuple[str, str, int]


@dataclass(frozen=True)
class ModelSource:
    """A model's files as stored: rows relative to the model directory."""

    uri: str
    rows: list[FileRow]
    run_id: str | None = None
    name: str | None = None
    version: int | None = None
