"""The files a new model version holds, taken from its source and checked.

A ``runs:/`` source reuses the run's artifact blobs, a ``models:/`` source
the other version's, and a directory is copied into the blob store. Either
way the source's ``MLmodel`` is read from the stored bytes and every file it
lists must be there with the sha256 it records: a tampered model is refused
before it becomes a version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nbtrack.models import _uris, _yaml
from nbtrack.models._errors import ModelFormatError, ModelIntegrityError
from nbtrack.models._format import FLAVOR_KEY, MLMODEL, read_metadata

if TYPE_CHECKING:
    from nbtrack.client import TrackingClient


@dataclass(frozen=True)
class VersionFiles:
    """A version's files (path, sha256, size), its source run and flavor."""

    rows: list[tuple[str, str, int]]
    run_id: str | None
    flavor: str | None


def version_source(client: TrackingClient, source: str) -> VersionFiles:
    """The checked files of the model at ``source``."""
    if _uris.is_store_uri(source):
        client.flush()
        found = _uris.store_source(client, source)
        rows, run_id = found.rows, found.run_id
    else:
        path = _uris.local_path(source)
        read_metadata(path, source=source)  # verifies every hash before copying
        rows = []
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            sha, size = client.blobs.put_file(file)
            rows.append((file.relative_to(path).as_posix(), sha, size))
        run_id = None
    by_path = {p: sha for p, sha, _ in rows}
    if MLMODEL not in by_path:
        raise ModelFormatError(
            f"{source} is not a model: it has no MLmodel file. Register what "
            "nbtrack.<flavor>.log_model logged, e.g. runs:/RUN_ID/model"
        )
    data = client.blobs_holding(by_path[MLMODEL]).read_bytes(by_path[MLMODEL])
    if hashlib.sha256(data).hexdigest() != by_path[MLMODEL]:
        raise ModelIntegrityError(f"the stored MLmodel of {source} was changed on disk")
    document = _yaml.load(data.decode(), source=source)
    own = document.get("flavors", {}).get(FLAVOR_KEY)
    if not isinstance(own, dict):
        raise ModelFormatError(f"{source} was not saved by nbtrack (no {FLAVOR_KEY!r} flavor)")
    for rel, sha in (own.get("files") or {}).items():
        if rel not in by_path:
            raise ModelIntegrityError(f"{source} lacks the file {rel!r} that its MLmodel lists")
        if by_path[rel] != sha:
            raise ModelIntegrityError(
                f"file {rel!r} of {source} differs from the sha256 its MLmodel records; "
                "refusing to register a changed model"
            )
    if run_id is None and isinstance(document.get("run_id"), str):
        run_id = document["run_id"]
    flavor = own.get("flavor")
    return VersionFiles(rows, run_id, str(flavor) if flavor else None)
