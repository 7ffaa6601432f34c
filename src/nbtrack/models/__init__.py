"""Models: nbtrack's packaging format (MLflow's ``MLmodel``), flavors, signatures, URIs.

The flavors' own entry points are :mod:`nbtrack.sklearn`, :mod:`nbtrack.pyfunc`
and :mod:`nbtrack.pytorch`; serving is :mod:`nbtrack.models.serving`.
"""

from nbtrack.models._api import ModelInfo, PyFuncModel, fetch, load_model, log_model, save_model
from nbtrack.models._errors import (
    ModelFormatError,
    ModelIntegrityError,
    SignatureError,
    UnsafeModelError,
)
from nbtrack.models._format import ModelMetadata
from nbtrack.models._signature import ColSpec, ModelSignature, TensorSpec, infer_signature

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
