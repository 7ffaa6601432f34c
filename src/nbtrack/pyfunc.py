"""Any model behind one interface: ``nbtrack.pyfunc.load_model(uri).predict(data)``.

Also the flavor for custom Python models: an object with ``predict`` (MLflow's
``PythonModel`` shape works) plus ``artifacts`` files it reads in
``load_context``. MLflow's calls work unchanged::

    class AddN(nbtrack.pyfunc.PythonModel):          # defined in the notebook
        def __init__(self, n):
            self.n = n

        def predict(self, context, model_input, params=None):
            return model_input + self.n

    with nbtrack.start_run():
        info = nbtrack.pyfunc.log_model(name="add_n", python_model=AddN(5))
    nbtrack.pyfunc.load_model(info.model_uri).predict(frame)   # one call, same store
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from nbtrack.exceptions import InvalidInputError
from nbtrack.models import _api
from nbtrack.models._api import ModelInfo, PyFuncModel
from nbtrack.models._format import ModelMetadata
from nbtrack.models._keywords import Extras, Requirements, model_name, the_model
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

Artifacts = Mapping[str, str | os.PathLike[str]] | None


def log_model(
    model: Any = None,
    name: str | None = None,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization: str | None = None,
    *,
    python_model: Any = None,
    artifact_path: str | None = None,
    artifacts: Artifacts = None,
    code_paths: Iterable[str | os.PathLike[str]] | None = None,
    infer_code_paths: bool = False,
    registered_model_name: str | None = None,
    pip_requirements: Requirements = None,
    extra_pip_requirements: Requirements = None,
    metadata: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> ModelInfo:
    """Log a custom model (an object with ``predict``) and its artifact files.

    Both spellings work: ``log_model(model, "name")`` and MLflow's
    ``log_model(name="name", python_model=model)`` (or ``log_model("name",
    python_model=model)``, ``artifact_path=``). ``artifacts`` maps names to
    local paths or ``runs:/`` / ``models:/`` URIs; ``code_paths`` are copied
    into the model and put on ``sys.path`` when it is loaded (trusted).
    ``infer_code_paths=True`` finds them instead: the working directory's
    Python files the model refers to (MLflow's rule; see
    :mod:`nbtrack.models._code_inference`).

    Without ``serialization``, an importable class whose attributes skops can
    store is saved as class path + skops; anything else (a class defined in a
    notebook) with cloudpickle, as MLflow does. Either loads in one call from
    this store's run; from anywhere else see ``load_model``. Example::

        nbtrack.pyfunc.log_model(Threshold(0.5), "rule", artifacts={"vocab": "vocab.txt"})
    """
    model, name = _model_and_name(model, name, python_model, "name")
    return _api.log_model(
        FLAVOR,
        model,
        model_name(name, artifact_path),
        input_example=input_example,
        signature=signature,
        serialization=serialization,
        options={"artifacts": artifacts},
        extras=Extras.of(
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            code_paths=code_paths,
            infer_code_paths=infer_code_paths,
            metadata=metadata,
            params=params,
        ),
        registered_model_name=registered_model_name,
    )


def save_model(
    model: Any = None,
    path: str | os.PathLike[str] | None = None,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization: str | None = None,
    *,
    python_model: Any = None,
    artifacts: Artifacts = None,
    code_paths: Iterable[str | os.PathLike[str]] | None = None,
    infer_code_paths: bool = False,
    pip_requirements: Requirements = None,
    extra_pip_requirements: Requirements = None,
    metadata: Mapping[str, Any] | None = None,
) -> ModelMetadata:
    """Write a custom model and its artifacts as a model directory at ``path``.

    ``save_model(model, path)`` or MLflow's ``save_model(path, python_model=model)``.
    """
    model, where = _model_and_name(model, path, python_model, "path")
    if where is None:
        raise InvalidInputError("save_model needs the path to write the model to")
    return _api.save_model(
        FLAVOR,
        model,
        where,
        input_example=input_example,
        signature=signature,
        serialization=serialization,
        options={"artifacts": artifacts},
        extras=Extras.of(
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            code_paths=code_paths,
            infer_code_paths=infer_code_paths,
            metadata=metadata,
        ),
    )


def _model_and_name(first: Any, second: Any, python_model: Any, what: str) -> tuple[Any, Any]:
    """MLflow passes the name (or path) first and the model as ``python_model=``."""
    if python_model is not None and isinstance(first, str | os.PathLike):
        if second is not None:
            raise InvalidInputError(f"the {what} is given twice: first and as {what}=")
        return python_model, first
    return the_model(first, python_model, "python_model"), second


def load_model(
    model_uri: str | os.PathLike[str],
    suppress_warnings: bool = False,
    dst_path: str | os.PathLike[str] | None = None,
    model_config: Mapping[str, Any] | None = None,
    *,
    allow_pickle: bool = False,
    trusted_types: Iterable[str] | None = None,
    trust_code: bool = False,
) -> PyFuncModel:
    """Load a model of any flavor from a path, ``runs:/`` or ``models:/`` URI.

    Every file's sha256 is checked first. A model loaded by URI from the run
    of this store that logged it is trusted: it loads in one call, pickled or
    not (see the README's "Loading models"). Otherwise skops models load only
    trusted types (add yours with ``trusted_types``), pickled ones need
    ``allow_pickle=True``, and a class the model names is used only if its
    module is already imported, or with ``trust_code=True``. ``predict``
    checks input against the signature. ``model_config`` reaches a custom
    model as ``context.model_config``; ``suppress_warnings`` is MLflow's and
    has nothing to silence here.
    """
    return _api.load_model(
        model_uri,
        allow_pickle=allow_pickle,
        trusted_types=trusted_types,
        trust_code=trust_code,
        dst_path=dst_path,
        model_config=model_config,
    )
