"""Model URIs and where their files are.

* ``runs:/RUN_ID/path``: the model logged under ``path`` in a run's artifacts.
* ``models:/NAME/VERSION``, ``models:/NAME@ALIAS``, ``models:/NAME/STAGE``
  (``None``, ``Staging``, ``Production``, ``Archived``: the highest version in
  that stage) and ``models:/NAME/latest``: a registered version.
* ``models:/<model_id>`` (``m-`` and 32 hex digits): an MLflow 3 logged model
  (``ModelInfo.model_id``), its files in the run it was logged to or its own.
* A plain path or ``file://`` URI: a model directory on disk.

``models:/`` URIs are the registry's to resolve (see
:mod:`nbtrack.models._registry_hooks`: models never imports the registry).
Store-backed models are listed as ``(path, sha256, size)`` rows pointing at
blobs; :func:`materialize` copies them into a directory, checking each
blob's sha256 on the way, so a blob altered on disk is refused.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from nbtrack.exceptions import ArtifactIntegrityError, InvalidInputError, NotFoundError
from nbtrack.models import _registry_hooks
from nbtrack.models._errors import ModelIntegrityError
from nbtrack.models._source import FileRow, ModelSource
from nbtrack.store.artifacts import normalize_artifact_path, parallel_map, safe_destination

if TYPE_CHECKING:
    from nbtrack.client import TrackingClient

_RUN_ID = re.compile(r"[0-9a-f]{32}")
_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")


def is_store_uri(uri: str) -> bool:
    """Whether ``uri`` names a model in a store (``runs:/`` or ``models:/``)."""
    return uri.startswith(("runs:/", "models:/"))


def local_path(uri: str) -> Path:
    """The directory of a plain path or ``file://`` URI."""
    if uri.startswith("file:"):
        return Path(unquote(urlparse(uri).path))
    if "://" in uri or uri.startswith(("runs:", "models:")):
        raise InvalidInputError(
            f"model URI {uri!r} is not supported; use runs:/RUN_ID/path, models:/NAME/VERSION, "
            "models:/NAME@ALIAS, models:/NAME/STAGE or a local path"
        )
    return Path(uri)


def store_source(client: TrackingClient, uri: str) -> ModelSource:
    """The stored files of a ``runs:/`` or ``models:/`` URI."""
    if uri.startswith("runs:/"):
        run_id, path = parse_runs_uri(uri)
        return ModelSource(uri, _run_rows(client, run_id, path), run_id=run_id)
    model_id = uri[len("models:/") :].strip("/")
    if _MODEL_ID.fullmatch(model_id):
        model = client.get_logged_model(model_id)
        source_run, location = model.source_run_id, model.artifact_location
        if source_run is not None and location.startswith("runs:/"):
            rows = _run_rows(client, source_run, parse_runs_uri(location)[1])
        else:
            rows = client.logged_model_files(model_id)
        return ModelSource(uri, rows, run_id=source_run)
    return _registry_hooks.registry().resolve(client, uri)


def _run_rows(client: TrackingClient, run_id: str, path: str) -> list[FileRow]:
    rows = client.queries.artifact_files(run_id, path)
    prefix = f"{path}/" if path else ""
    relative = [(p[len(prefix) :], sha, size) for p, sha, size in rows if p != path]
    if not relative:
        raise NotFoundError(
            f"run {run_id} has no model at {path!r}; log one with "
            "nbtrack.sklearn.log_model(model, name) and use runs:/RUN_ID/name"
        )
    return relative


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """``(run_id, path)`` of a ``runs:/RUN_ID/path`` URI."""
    rest = uri[len("runs:/") :].lstrip("/")
    run_id, _, path = rest.partition("/")
    if not _RUN_ID.fullmatch(run_id):
        raise InvalidInputError(
            f"{uri!r}: {run_id!r} is not a run id; write runs:/<32-hex run id>/<model path>"
        )
    return run_id, normalize_artifact_path(path, what="model path") if path.strip("/") else ""


def materialize(client: TrackingClient, rows: list[FileRow], destination: Path) -> Path:
    """Copy stored files into ``destination``, verifying every blob's sha256.

    Blobs come from whichever root of the store holds them (a bucket too),
    several at once; each file is renamed into place only once its sha256
    matched, so a refused blob leaves nothing behind.
    """
    destination.mkdir(parents=True, exist_ok=True)
    targets = [(rel, sha, safe_destination(destination, rel), size) for rel, sha, size in rows]

    def fetch(item: tuple[str, str, Path, int]) -> None:
        rel, sha, target, size = item
        blobs = client.blobs_holding(sha)
        if not blobs.exists(sha):
            raise ModelIntegrityError(
                f"the stored content of model file {rel!r} (blob {sha[:16]}...) is missing "
                f"from {blobs.url}; the store was damaged or cleaned by hand"
            )
        try:
            blobs.copy_to(sha, target, size=int(size))
        except ArtifactIntegrityError as error:
            raise ModelIntegrityError(
                f"the stored content of model file {rel!r} was changed on disk and is "
                f"refused: {error}"
            ) from None

    parallel_map(fetch, targets)
    return destination


def remove_tree(path: Path) -> None:
    """Remove a directory this module created (used by finalizers)."""
    shutil.rmtree(path, ignore_errors=True)
