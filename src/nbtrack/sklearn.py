"""scikit-learn models: ``nbtrack.sklearn.log_model(model, "model")`` (MLflow's names).

Stored with skops (safe to load: only trusted types are rebuilt), as MLflow 3
does outside Databricks; ``serialization="cloudpickle"`` (MLflow's
``serialization_format=``) is opt-in and loads without ``allow_pickle=True``
only from the store run that logged it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from nbtrack.exceptions import InvalidInputError
from nbtrack.models import _api
from nbtrack.models._api import ModelInfo
from nbtrack.models._format import ModelMetadata
from nbtrack.models._keywords import Extras, Requirements, model_name, the_model
from nbtrack.models._signature import ModelSignature

__all__ = ["load_model", "log_model", "save_model"]

FLAVOR = "sklearn"


def log_model(
    sk_model: Any = None,
    name: str | None = None,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization: str | None = None,
    *,
    artifact_path: str | None = None,
    serialization_format: str | None = None,
    registered_model_name: str | None = None,
    code_paths: Iterable[str | os.PathLike[str]] | None = None,
    pip_requirements: Requirements = None,
    extra_pip_requirements: Requirements = None,
    metadata: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> ModelInfo:
    """Log a fitted estimator or pipeline to the active run under ``name``.

    MLflow's keywords work: ``sk_model=``, ``name=`` (or MLflow 2's
    ``artifact_path=``; ``"model"`` when neither is given),
    ``serialization_format=``, ``code_paths``, ``pip_requirements`` /
    ``extra_pip_requirements`` (a list or a requirements file),
    ``registered_model_name``, ``metadata`` and ``params``.
    ``input_example`` (a DataFrame or array) gives the signature; ``signature``
    sets it explicitly. Example::

        info = nbtrack.sklearn.log_model(clf, "model", input_example=X[:5])
        nbtrack.pyfunc.load_model(info.model_uri).predict(X)
    """
    extras = Extras.of(
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        code_paths=code_paths,
        metadata=metadata,
        params=params,
    )
    return _api.log_model(
        FLAVOR,
        the_model(sk_model, None, "sk_model"),
        model_name(name, artifact_path),
        input_example=input_example,
        signature=signature,
        serialization=_serialization(serialization, serialization_format),
        extras=extras,
        registered_model_name=registered_model_name,
    )


def save_model(
    sk_model: Any,
    path: str | os.PathLike[str],
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization: str | None = None,
    *,
    serialization_format: str | None = None,
    code_paths: Iterable[str | os.PathLike[str]] | None = None,
    pip_requirements: Requirements = None,
    extra_pip_requirements: Requirements = None,
    metadata: Mapping[str, Any] | None = None,
) -> ModelMetadata:
    """Write a fitted estimator or pipeline as a model directory at ``path``."""
    return _api.save_model(
        FLAVOR,
        sk_model,
        path,
        input_example=input_example,
        signature=signature,
        serialization=_serialization(serialization, serialization_format),
        extras=Extras.of(
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            code_paths=code_paths,
            metadata=metadata,
        ),
    )


def load_model(
    model_uri: str | os.PathLike[str],
    dst_path: str | os.PathLike[str] | None = None,
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
        dst_path=dst_path,
        flavor=FLAVOR,
    )
    return model.unwrap_python_model()


def _serialization(serialization: str | None, serialization_format: str | None) -> str | None:
    if None not in (serialization, serialization_format) and serialization != serialization_format:
        raise InvalidInputError(
            "serialization and serialization_format (MLflow's name) disagree; pass one"
        )
    return serialization if serialization is not None else serialization_format


def autolog(*args: Any, **kwargs: Any) -> None:
    """Log scikit-learn training automatically (MLflow's ``mlflow.sklearn.autolog``).

    Every ``fit`` logs params, training metrics (``training_score``,
    ``training_accuracy_score``, ...) and the model; see
    :func:`nbtrack.autologging._sklearn.autolog` for the options.
    """
    from nbtrack.autologging import _sklearn

    _sklearn.autolog(*args, **kwargs)
