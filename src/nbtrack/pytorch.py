"""PyTorch modules: weights in safetensors, the module rebuilt from its class path.

PyTorch is optional (``pip install torch``). Example::

    nbtrack.pytorch.log_model(net, "model", init_kwargs={"hidden": 32}, input_example=x[:4])
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from nbtrack.models import _api
from nbtrack.models._api import ModelInfo
from nbtrack.models._format import ModelMetadata
from nbtrack.models._keywords import Extras, Requirements, model_name, the_model
from nbtrack.models._signature import ModelSignature

__all__ = ["load_model", "log_model", "save_model"]

FLAVOR = "pytorch"


def log_model(
    pytorch_model: Any = None,
    name: str | None = None,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization: str | None = None,
    *,
    init_kwargs: Mapping[str, Any] | None = None,
    artifact_path: str | None = None,
    registered_model_name: str | None = None,
    code_paths: Iterable[str | os.PathLike[str]] | None = None,
    pip_requirements: Requirements = None,
    extra_pip_requirements: Requirements = None,
    metadata: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> ModelInfo:
    """Log a ``torch.nn.Module``: its ``state_dict`` (safetensors) and class path.

    ``init_kwargs`` (JSON values) rebuild the module at load time:
    ``cls(**init_kwargs)``; they are checked against the constructor now.
    Without ``serialization``, a module whose class cannot be imported again
    (defined in a notebook) or rebuilt (its constructor needs arguments not
    given) is stored whole with cloudpickle, as MLflow does; it loads in one
    call from this store's run, elsewhere with ``allow_pickle=True``.
    MLflow's keywords work (``pytorch_model=``, ``name=``/``artifact_path=``,
    ``code_paths``, requirements, ``metadata``, ``params``).
    """
    return _api.log_model(
        FLAVOR,
        the_model(pytorch_model, None, "pytorch_model"),
        model_name(name, artifact_path),
        input_example=input_example,
        signature=signature,
        serialization=serialization,
        options={"init_kwargs": init_kwargs},
        extras=Extras.of(
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            code_paths=code_paths,
            metadata=metadata,
            params=params,
        ),
        registered_model_name=registered_model_name,
    )


def save_model(
    pytorch_model: Any,
    path: str | os.PathLike[str],
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization: str | None = None,
    *,
    init_kwargs: Mapping[str, Any] | None = None,
    code_paths: Iterable[str | os.PathLike[str]] | None = None,
    pip_requirements: Requirements = None,
    extra_pip_requirements: Requirements = None,
    metadata: Mapping[str, Any] | None = None,
) -> ModelMetadata:
    """Write a module as a model directory at ``path``."""
    return _api.save_model(
        FLAVOR,
        pytorch_model,
        path,
        input_example=input_example,
        signature=signature,
        serialization=serialization,
        options={"init_kwargs": init_kwargs},
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
    trust_code: bool = False,
) -> Any:
    """The module itself, in ``eval()`` mode, on the CPU.

    A safetensors model runs no code of the file's while loading; its class
    is imported only as :func:`nbtrack.pyfunc.load_model` allows (already
    imported, logged by this store's run, or ``trust_code=True``). A pickled
    one is refused unless ``allow_pickle=True`` or logged by this store's run.
    """
    model = _api.load_model(
        model_uri,
        allow_pickle=allow_pickle,
        trust_code=trust_code,
        dst_path=dst_path,
        flavor=FLAVOR,
    )
    return model.unwrap_python_model()


def autolog(*args: Any, **kwargs: Any) -> None:
    """Log PyTorch Lightning training automatically (MLflow's ``mlflow.pytorch.autolog``).

    Options: :func:`nbtrack.autologging._lightning.autolog`. Plain PyTorch has no
    fit loop to patch: log with ``nbtrack.log_metrics`` in the loop and
    :func:`log_model` at the end.
    """
    from nbtrack.autologging import _lightning

    _lightning.autolog(*args, **kwargs)
