"""Models: nbtrack's packaging format (MLflow's ``MLmodel``), flavors, signatures, URIs.

The flavors' own entry points are :mod:`nbtrack.sklearn`, :mod:`nbtrack.pyfunc`
and :mod:`nbtrack.pytorch`; serving is :mod:`nbtrack.models.serving`.

The names below are imported on first use: :mod:`nbtrack.registry` installs
its hooks (:mod:`._registry_hooks`) when ``import nbtrack`` runs, and that
must not load the model format's modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbtrack.models._api import (
        ModelInfo,
        PyFuncModel,
        fetch,
        load_model,
        log_model,
        save_model,
    )
    from nbtrack.models._errors import (
        ModelFormatError,
        ModelIntegrityError,
        SignatureError,
        UnsafeModelError,
    )
    from nbtrack.models._format import ModelMetadata
    from nbtrack.models._signature import ColSpec, ModelSignature, TensorSpec, infer_signature

_HOMES = {
    "ModelInfo": "_api",
    "PyFuncModel": "_api",
    "fetch": "_api",
    "load_model": "_api",
    "log_model": "_api",
    "save_model": "_api",
    "ModelFormatError": "_errors",
    "ModelIntegrityError": "_errors",
    "SignatureError": "_errors",
    "UnsafeModelError": "_errors",
    "ModelMetadata": "_format",
    "ColSpec": "_signature",
    "ModelSignature": "_signature",
    "TensorSpec": "_signature",
    "infer_signature": "_signature",
}

__all__ = [
    "ColSpec",
    "ModelFormatError",
    "ModelInfo",
    "ModelIntegrityError",
    "ModelMetadata",
    "ModelSignature",
    "PyFuncModel",
    "SignatureError",
    "TensorSpec",
    "UnsafeModelError",
    "fetch",
    "infer_signature",
    "load_model",
    "log_model",
    "save_model",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
