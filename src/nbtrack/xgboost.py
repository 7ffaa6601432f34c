"""XGBoost boosters and scikit-learn wrappers: ``model.json`` (XGBoost's JSON), never pickle.

Example::

    nbtrack.xgboost.log_model(booster, "model")
    nbtrack.xgboost.load_model(f"runs:/{run_id}/model").predict(...)

``autolog()`` logs training with ``xgboost.train`` (and the scikit-learn API,
which calls it) automatically (MLflow's ``mlflow.xgboost.autolog``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from nbtrack.models import _api
from nbtrack.models._api import ModelInfo
from nbtrack.models._format import ModelMetadata
from nbtrack.models._keywords import Extras
from nbtrack.models._signature import ModelSignature

__all__ = ["autolog", "load_model", "log_model", "save_model"]

FLAVOR = "xgboost"


def log_model(
    model: Any,
    name: str,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    *,
    registered_model_name: str | None = None,
    extra_pip_requirements: Iterable[str] = (),
) -> ModelInfo:
    """Log a trained model to the active run under ``name``."""
    return _api.log_model(
        FLAVOR,
        model,
        name,
        input_example=input_example,
        signature=signature,
        serialization="json",
        extras=Extras.of(extra_pip_requirements=list(extra_pip_requirements)),
        registered_model_name=registered_model_name,
    )


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    input_example: Any = None,
    signature: ModelSignature | None = None,
    *,
    extra_pip_requirements: Iterable[str] = (),
) -> ModelMetadata:
    """Write a trained model as a model directory at ``path``."""
    return _api.save_model(
        FLAVOR,
        model,
        path,
        input_example=input_example,
        signature=signature,
        serialization="json",
        extras=Extras.of(extra_pip_requirements=list(extra_pip_requirements)),
    )


def load_model(model_uri: str | os.PathLike[str]) -> Any:
    """The model itself (use :func:`nbtrack.pyfunc.load_model` for checked ``predict``)."""
    model = _api.load_model(model_uri, flavor=FLAVOR)
    return model.unwrap_python_model()


def autolog(*args: Any, **kwargs: Any) -> None:
    """Log xgboost training automatically (options: ``autologging._boosting.autolog_xgboost``)."""
    from nbtrack.autologging import _boosting

    _boosting.autolog_xgboost(*args, **kwargs)
