"""scikit-learn models: ``nbtrack.sklearn.log_model(model, "model")`` (MLflow's names).

Stored with skops (safe to load: only trusted types are rebuilt);
``serialization="pickle"`` is opt-in and loads only with ``allow_pickle=True``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from nbtrack.models import _api
from nbtrack.models._api import ModelInfo
from nbtrack.models._format import ModelMetadata
from nbtrack.models._signature import ModelSignature

__all__ = ["load_model", "log_model", "save_model"]

FLAVOR = "sklearn"


def log_model(
    model: Any,
    name: str,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization: str = "skops",
    *,
    registered_model_name: str | None = None,
    extra_pip_requirements: Iterable[str] = (),
) -> ModelInfo:
    """Log a fitted estimator or pipeline to the active run under ``name``.

    ``input_example`` (a DataFrame or array) gives the signature; ``signature``
    sets it explicitly. ``registered_model_name`` also registers it. Example::

        info = nbtrack.sklearn.log_model(clf, "model", input_example=X[:5])
        nbtrack.pyfunc.load_model(info.model_uri).predict(X)
    """
    return _api.log_model(
        FLAVOR,
        model,
        name,
        input_example=input_example,
        signature=signature,
        serialization=serialization,
        extra_pip_requirements=extra_pip_requirements,
        registered_model_name=registered_model_name,
    )


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization: str = "skops",
    *,
    extra_pip_requirements: Iterable[str] = (),
) -> ModelMetadata:
    """Write a fitted estimator or pipeline as a model directory at ``path``."""
    return _api.save_model(
        FLAVOR,
        model,
        path,
        input_example=input_example,
        signature=signature,
        serialization=serialization,
        extra_pip_requirements=extra_pip_requirements,
    )


def load_model(
    model_uri: str | os.PathLike[str],
    *,
    allow_pickle: bool = False,
    trusted_types: Iterable[str] | None = None,
    trust_code: bool = False,
) -> Any:
    """The estimator itself (use :func:`nbtrack.pyfunc.load_model` for checked ``predict``)."""
    model = _api.load_model(
        model_uri,
        allow_pickle=allow_pickle,
        trusted_types=trusted_types,
        trust_code=trust_code,
        flavor=FLAVOR,
    )
    return model.unwrap_python_model()
