"""Any model behind one interface: ``nbtrack.pyfunc.load_model(uri).predict(data)``.

Also the flavor for custom Python models: an object with ``predict`` (MLflow's
``PythonModel`` shape works) plus ``artifacts`` files it reads in
``load_context``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from nbtrack.models import _api
from nbtrack.models._api import ModelInfo, PyFuncModel
from nbtrack.models._format import ModelMetadata
from nbtrack.models._python_model import PythonModel, PythonModelContext
from nbtrack.models._signature import ModelSignature

__all__ = [
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "load_model",
    "log_model",
    "save_model",
]

FLAVOR = "pyfunc"


def log_model(
    model: Any,
    name: str,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization: str = "skops",
    *,
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    registered_model_name: str | None = None,
    extra_pip_requirements: Iterable[str] = (),
) -> ModelInfo:
    """Log a custom model (an object with ``predict``) and its artifact files.

    With the default ``serialization="skops"`` the model's class must live in
    an importable module (not a notebook); its attributes are stored with
    skops. ``serialization="pickle"`` takes any object (loading then needs
    ``allow_pickle=True``). Example::

        nbtrack.pyfunc.log_model(Threshold(0.5), "rule", artifacts={"vocab": "vocab.txt"})
    """
    return _api.log_model(
        FLAVOR,
        model,
        name,
        input_example=input_example,
        signature=signature,
        serialization=serialization,
        options={"artifacts": artifacts},
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
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    extra_pip_requirements: Iterable[str] = (),
) -> ModelMetadata:
    """Write a custom model and its artifacts as a model directory at ``path``."""
    return _api.save_model(
        FLAVOR,
        model,
        path,
        input_example=input_example,
        signature=signature,
        serialization=serialization,
        options={"artifacts": artifacts},
        extra_pip_requirements=extra_pip_requirements,
    )


def load_model(
    model_uri: str | os.PathLike[str],
    *,
    allow_pickle: bool = False,
    trusted_types: Iterable[str] | None = None,
    trust_code: bool = False,
    dst_path: str | os.PathLike[str] | None = None,
) -> PyFuncModel:
    """Load a model of any flavor from a path, ``runs:/`` or ``models:/`` URI.

    Every file's sha256 is checked first. A model loaded by URI from the run
    of this store that logged it is trusted (see the README's "Loading
    models"). Otherwise: skops models load only trusted types (add yours with
    ``trusted_types``), pickled ones need ``allow_pickle=True``, and a class
    the model names is used only if its module is already imported, or with
    ``trust_code=True``. ``predict`` checks input against the signature.
    """
    return _api.load_model(
        model_uri,
        allow_pickle=allow_pickle,
        trusted_types=trusted_types,
        trust_code=trust_code,
        dst_path=dst_path,
    )
