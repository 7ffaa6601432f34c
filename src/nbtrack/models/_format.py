"""The model directory: ``MLmodel`` in MLflow's format, file hashes, requirements.

A saved model is a directory::

    MLmodel                    # YAML: flavors, signature, run, sha256 of every other file
    model.skops                # the flavor's data (or model.safetensors, model.pkl, ...)
    requirements.txt           # the flavor's libraries, pinned as installed
    python_env.yaml, conda.yaml
    input_example.json, serving_input_example.json   # when an example was given

``MLmodel`` has MLflow's ``python_function`` flavor whose ``loader_module`` is
:mod:`nbtrack.models._mlflow_loader`, so ``mlflow.pyfunc.load_model(path)``
loads it where nbtrack is installed; nbtrack's own flavor entry (``nbtrack``)
names the flavor, serialization and each file's sha256. :func:`read_metadata`
verifies every hash before anything is deserialized.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import logging
import platform
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrack.exceptions import InvalidInputError
from nbtrack.models import _yaml
from nbtrack.models._errors import ModelFormatError, ModelIntegrityError
from nbtrack.models._signature import ModelSignature
from nbtrack.store.artifacts import normalize_artifact_path

log = logging.getLogger(__name__)

MLMODEL = "MLmodel"
REQUIREMENTS = "requirements.txt"
#: Where a model's ``code_paths`` are copied (MLflow's layout).
CODE_DIR = "code"
LOADER_MODULE = "nbtrack.models._mlflow_loader"
FLAVOR_KEY = "nbtrack"
FORMAT_VERSION = 1
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelMetadata:
    """What a model directory says about itself (``PyFuncModel.metadata``)."""

    flavor: str
    serialization: str
    signature: ModelSignature | None
    requirements: list[str]
    run_id: str | None
    artifact_path: str | None
    model_uuid: str
    utc_time_created: str
    files: dict[str, str]
    flavor_conf: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    source: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    user_metadata: dict[str, Any] = field(default_factory=dict)

    def get_input_schema(self) -> ModelSignature | None:
        """The signature (MLflow's ``metadata.get_input_schema()`` spelling)."""
        return self.signature


def sha256_of(path: Path) -> str:
    """The sha256 of a file's content, as hex."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pinned(distributions: Iterable[str]) -> list[str]:
    """``name==version`` for each installed distribution (those not installed are left out)."""
    lines = []
    for name in dict.fromkeys(distributions):
        version = installed_version(name)
        if version is None:
            log.debug("requirements: %s is not installed; not pinned", name)
        else:
            lines.append(f"{name}=={version}")
    return lines


@functools.cache
def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, or None; looked up once per process.

    Reading a distribution's metadata costs about a millisecond, and a model is
    saved after every autologged fit. Once per process is also the right
    answer: a library upgraded by ``pip install`` in a running kernel stays at
    the version imported, which is the one that trained the model.
    """
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def prepare_directory(path: Path) -> None:
    """Create ``path`` for a new model; an existing non-empty directory is refused."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidInputError(
            f"{path} already exists and is not an empty directory; "
            "save the model to a new path (a saved model is never overwritten)"
        )
    path.mkdir(parents=True, exist_ok=True)


def write_model_files(
    path: Path,
    *,
    flavor: str,
    serialization: str,
    flavor_conf: dict[str, Any],
    signature: ModelSignature | None,
    input_example: Any,
    distributions: Iterable[str],
    extra_pip_requirements: Iterable[str] = (),
    run_id: str | None = None,
    artifact_path: str | None = None,
    pip_requirements: Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> ModelMetadata:
    """Write the example, requirements and environment files, then ``MLmodel``.

    The flavor's own files (and ``code/``, the model's ``code_paths``) must
    already be in ``path``; every file there is hashed into ``MLmodel``.
    ``pip_requirements`` replaces the pinned flavor libraries (MLflow's rule).
    """
    requirements = (
        list(pip_requirements)
        if pip_requirements is not None
        else pinned(["nbtrack", *distributions])
    ) + list(extra_pip_requirements)
    (path / REQUIREMENTS).write_text("\n".join(requirements) + "\n")
    python = platform.python_version()
    (path / "python_env.yaml").write_text(
        _yaml.dump(
            {
                "python": python,
                "build_dependencies": pinned(["pip", "setuptools", "wheel"]),
                "dependencies": [f"-r {REQUIREMENTS}"],
            }
        )
    )
    (path / "conda.yaml").write_text(
        _yaml.dump(
            {
                "name": "mlflow-env",
                "channels": ["conda-forge"],
                "dependencies": [f"python={python}", "pip", {"pip": requirements}],
            }
        )
    )
    document: dict[str, Any] = {}
    if artifact_path is not None:
        document["artifact_path"] = artifact_path
    if run_id is not None:
        document["run_id"] = run_id
    document["model_uuid"] = uuid.uuid4().hex
    document["utc_time_created"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if signature is not None:
        document["signature"] = signature.to_dict()
    if input_example is not None:
        document["saved_input_example_info"] = _write_example(path, input_example)
    if metadata:
        document["metadata"] = metadata
    files = {
        p.relative_to(path).as_posix(): sha256_of(p)
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != MLMODEL
    }
    python_function: dict[str, Any] = {
        "loader_module": LOADER_MODULE,
        "python_version": python,
        "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
    }
    if (path / CODE_DIR).is_dir():  # MLflow puts it on sys.path before calling our loader
        python_function["code"] = CODE_DIR
    document["flavors"] = {
        "python_function": python_function,
        FLAVOR_KEY: {
            "format_version": FORMAT_VERSION,
            "flavor": flavor,
            "serialization": serialization,
            "nbtrack_version": _version("nbtrack"),
            "config": flavor_conf,
            "files": files,
            **({"params": params} if params else {}),
        },
    }
    (path / MLMODEL).write_text(_yaml.dump(document))
    return read_metadata(path, verify=False)


def _write_example(path: Path, example: Any) -> dict[str, Any]:
    """``input_example.json`` and ``serving_input_example.json`` in MLflow's layout."""
    import numpy as np
    import pandas as pd

    if isinstance(example, dict | list) and not (
        isinstance(example, list) and example and not isinstance(example[0], dict)
    ):
        example = pd.DataFrame(example)
    if isinstance(example, pd.DataFrame):
        split = json.loads(example.to_json(orient="split", index=False, date_format="iso"))
        info = {"type": "dataframe", "pandas_orient": "split"}
        serving = {"dataframe_split": split}
    else:
        split = {"inputs": np.asarray(example).tolist()}
        info = {"type": "ndarray", "format": "tf-serving"}
        serving = split
    (path / "input_example.json").write_text(json.dumps(split))
    (path / "serving_input_example.json").write_text(json.dumps(serving, indent=2))
    return {
        "artifact_path": "input_example.json",
        "serving_input_path": "serving_input_example.json",
        **info,
    }


def _version(distribution: str) -> str:
    return installed_version(distribution) or "unknown"


def read_document(path: Path) -> dict[str, Any]:
    """The parsed ``MLmodel`` of a model directory, without verifying files."""
    mlmodel = path / MLMODEL
    if not mlmodel.is_file():
        what = "does not exist" if not path.exists() else "has no MLmodel file"
        raise ModelFormatError(
            f"{path} {what}, so it is not a saved model; give the directory that "
            "save_model wrote, or a runs:/ or models:/ URI"
        )
    return _yaml.load(mlmodel.read_text(), source=str(mlmodel))


def read_metadata(path: Path, *, verify: bool = True, source: str | None = None) -> ModelMetadata:
    """The model's metadata; with ``verify``, every file's sha256 is checked first."""
    document = read_document(path)
    own = document.get("flavors", {}).get(FLAVOR_KEY)
    if not isinstance(own, dict):
        raise ModelFormatError(
            f"{path / MLMODEL} has no {FLAVOR_KEY!r} flavor: it was not saved by nbtrack; "
            "load it with mlflow.pyfunc.load_model"
        )
    if own.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(
            f"{path} uses nbtrack model format {own.get('format_version')!r}; this nbtrack "
            f"reads format {FORMAT_VERSION}: upgrade nbtrack"
        )
    files = dict(own.get("files") or {})
    if verify:
        verify_files(path, files)
    signature = document.get("signature")
    requirements_file = path / REQUIREMENTS
    requirements = (
        [line for line in requirements_file.read_text().splitlines() if line.strip()]
        if requirements_file.is_file()
        else []
    )
    return ModelMetadata(
        flavor=str(own["flavor"]),
        serialization=str(own["serialization"]),
        signature=ModelSignature.from_dict(signature) if isinstance(signature, dict) else None,
        requirements=requirements,
        run_id=document.get("run_id"),
        artifact_path=document.get("artifact_path"),
        model_uuid=str(document.get("model_uuid", "")),
        utc_time_created=str(document.get("utc_time_created", "")),
        files=files,
        flavor_conf=dict(own.get("config") or {}),
        path=path,
        source=source,
        params={str(k): str(v) for k, v in dict(own.get("params") or {}).items()},
        user_metadata=dict(document.get("metadata") or {}),
    )


def verify_files(path: Path, files: dict[str, str]) -> None:
    """Refuse a model whose files are missing or differ from the hashes in ``MLmodel``."""
    root = path.resolve()
    for rel, expected in files.items():
        normalize_artifact_path(rel, what="model file path")
        file = (root / rel).resolve()
        if not file.is_relative_to(root):
            raise ModelIntegrityError(f"model file {rel!r} resolves outside {path}")
        if not file.is_file():
            raise ModelIntegrityError(
                f"model file {rel!r} listed in {path / MLMODEL} is missing; "
                "the model directory is incomplete: download or log it again"
            )
        actual = sha256_of(file)
        if actual != expected:
            raise ModelIntegrityError(
                f"model file {rel!r} in {path} was changed after the model was saved: "
                f"its sha256 is {actual[:16]}..., MLmodel records {expected[:16]}.... "
                "Refusing to load it; save or log the model again from its source"
            )


def model_file(path: Path, metadata: ModelMetadata, key: str = "model_file") -> Path:
    """A file the flavor's config names, checked to be one of the hashed files."""
    rel = metadata.flavor_conf.get(key)
    if not isinstance(rel, str) or rel not in metadata.files:
        raise ModelFormatError(
            f"{path / MLMODEL} does not name a hashed {key}; the model directory is damaged"
        )
    return path / rel
