"""Artifacts by URI (MLflow's ``mlflow.artifacts``): download, read as text or dict.

URIs: ``runs:/<run_id>/<path>`` (a run's artifact), ``models:/<name>/<version>``
and ``models:/<name>@<alias>`` (a registered model's files), or a local path /
``file://`` URI. Artifacts are read from the current tracking store.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from nbtrack.exceptions import InvalidInputError


def _parse_runs_uri(uri: str) -> tuple[str, str]:
    rest = uri[len("runs:/") :].lstrip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidInputError(f"malformed runs URI {uri!r}; expected runs:/<run_id>/<path>")
    return run_id, path.strip("/")


def download_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    dst_path: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
) -> str:
    """Copy artifacts to a local directory and return the local path of what was asked for.

    Give ``artifact_uri`` (``runs:/...``, ``models:/...`` or a local path), or
    ``run_id`` with an optional ``artifact_path``; not both.
    """
    from nbtrack.registry import TrackingClient

    if (artifact_uri is None) == (run_id is None):
        raise InvalidInputError(
            "download_artifacts takes either artifact_uri or run_id (with artifact_path)"
        )
    if artifact_uri is not None and artifact_path is not None:
        raise InvalidInputError("artifact_path goes with run_id; put the path in artifact_uri")
    client = TrackingClient(tracking_uri)
    if run_id is not None:
        return client.download_artifacts(run_id, artifact_path or "", dst_path)
    assert artifact_uri is not None
    if artifact_uri.startswith("runs:/"):
        rid, path = _parse_runs_uri(artifact_uri)
        return client.download_artifacts(rid, path, dst_path)
    if artifact_uri.startswith("models:/"):
        from nbtrack.models import fetch

        destination = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp())
        model_dir, _, _ = fetch(artifact_uri, dst_path=destination, client=client)
        return str(model_dir)
    local = Path(
        artifact_uri[len("file://") :] if artifact_uri.startswith("file://") else artifact_uri
    )
    if "://" in str(local) or not local.exists():
        raise InvalidInputError(
            f"cannot download {artifact_uri!r}: use runs:/<run_id>/<path>, "
            "models:/<name>/<version> or an existing local path"
        )
    destination = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp())
    target = destination / local.name
    if local.is_dir():
        shutil.copytree(local, target, dirs_exist_ok=True)
    else:
        destination.mkdir(parents=True, exist_ok=True)
        shutil.copy2(local, target)
    return str(target)


def load_text(artifact_uri: str) -> str:
    """The content of a text artifact (UTF-8)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(download_artifacts(artifact_uri=artifact_uri, dst_path=tmp))
        if path.is_dir():
            raise InvalidInputError(f"{artifact_uri!r} is a directory, not a file")
        return path.read_text(encoding="utf-8")


def load_dict(artifact_uri: str) -> dict[str, Any]:
    """A JSON (or YAML, with PyYAML) artifact as a dict."""
    text = load_text(artifact_uri)
    if artifact_uri.endswith((".yaml", ".yml")):
        import yaml  # type: ignore[import-untyped]

        loaded = yaml.safe_load(text)
    else:
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"{artifact_uri!r} is not valid JSON: {error}") from None
    if not isinstance(loaded, dict):
        raise InvalidInputError(f"{artifact_uri!r} holds a {type(loaded).__name__}, not a dict")
    return loaded


def list_artifacts(
    artifact_uri: str | None = None, run_id: str | None = None, artifact_path: str | None = None
) -> list[Any]:
    """The files and directories directly under a run's artifact path."""
    from nbtrack.registry import TrackingClient

    if artifact_uri is not None:
        if not artifact_uri.startswith("runs:/"):
            raise InvalidInputError("list_artifacts takes a runs:/<run_id>/<path> URI")
        run_id, artifact_path = _parse_runs_uri(artifact_uri)
    if run_id is None:
        raise InvalidInputError("list_artifacts takes artifact_uri or run_id")
    return TrackingClient().list_artifacts(run_id, artifact_path or None)


__all__ = ["download_artifacts", "list_artifacts", "load_dict", "load_text"]
