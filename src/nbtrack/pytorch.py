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
from nbtrack.models._signature import ModelSignature

__all__ = ["load_model", "log_model", "save_model"]

FLAVOR = "pytorch"


def log_model(
    model: Any,
    name: str,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization: str = "safetensors",
    *,
    init_kwargs: Mapping[str, Any] | None = None,
    registered_model_name: str | None = None,
    extra_pip_requirements: Iterable[str] = (),
) -> ModelInfo:
    """Log a ``torch.nn.Module``: its ``state_dict`` (safetensors) and class path.

    ``init_kwargs`` (JSON values) rebuild the module at load time:
    ``cls(**init_kwargs)``; they are checked against the constructor now. The
    class must live in an importable module: a class defined in a notebook is
    refused with an explanation, unless ``serialization="pickle"`` (which then
    loads only with ``allow_pickle=True``).
    """
    return _api.log_model(
        FLAVOR,
        model,
        name,
        input_example=input_example,
        signature=signature,
        serialization=serialization,
        options={"init_kwargs": init_kwargs},
        extra_pip_requirements=extra_pip_requirements,
        registered_model_name=registered_model_name,
    )


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization: str = "safetensors",
    *,
    init_kwargs: Mapping[str, Any] | None = None,
    extra_pip_requirements: Iterable[str] = (),
) -> ModelMetadata:
    """Write a module as a model directory at ``path``."""
    return _api.save_model(
        FLAVOR,
        model,
        path,
        input_example=input_example,
        signature=signature,
        serialization=serialization,
        options={"init_kwargs": init_kwargs},
        extra_pip_requirements=extra_pip_requirements,
    )


def load_model(
    model_uri: str | os.PathLike[str], *, allow_pickle: bool = False, trust_code: bool = False
) -> Any:
    """The module itself, in ``eval()`` mode, on the CPU.

    A safetensors model runs no code of the file's while loading; its class
    is imported only as :func:`nbtrack.pyfunc.load_model` allows (already
    imported, logged by this store's run, or ``trust_code=True``). A pickled
    one is refused unless ``allow_pickle=True`` or logged by this store's run.
    """
    model = _api.load_model(
        model_uri, allow_pickle=allow_pickle, trust_code=trust_code, flavor=FLAVOR
    )
    return model.unwrap_python_model()
