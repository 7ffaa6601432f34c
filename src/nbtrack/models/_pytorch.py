"""The ``pytorch`` flavor: a ``torch.nn.Module`` as its class path plus a safetensors state_dict.

Saved: ``model.safetensors`` (the ``state_dict``, tensors only: loading it runs
no code), the module's class as ``module:Class`` and the keyword arguments to
build it (``init_kwargs``, JSON values). Loaded: the class is imported, built
with those arguments, given the weights and put in ``eval()`` mode.
``serialization="pickle"`` stores the whole module with cloudpickle instead
(``allow_pickle=True`` to load); that is the way for a class defined in a
notebook. PyTorch is optional: ``pip install torch``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nbtrack._optional import require
from nbtrack.exceptions import InvalidInputError
from nbtrack.models import _serialization as ser
from nbtrack.models import _trust
from nbtrack.models._errors import ModelFormatError
from nbtrack.models._flavor import Flavor, SavedFiles
from nbtrack.models._format import ModelMetadata, model_file

log = logging.getLogger(__name__)


def import_torch() -> Any:
    """The ``torch`` module, or an error that says how to install it."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        raise ModelFormatError(
            "this model needs PyTorch, which is not installed: pip install torch"
        ) from None


def _check_init_kwargs(cls: type, init_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``init_kwargs`` as JSON values that ``cls(**init_kwargs)`` accepts (checked at save time,
    so a model that could never be rebuilt is refused before it is logged)."""
    kwargs = dict(init_kwargs)
    try:
        json.dumps(kwargs)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"init_kwargs must be JSON values (numbers, strings, lists, dicts): {exc}"
        ) from None
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as exc:
        raise InvalidInputError(
            f"{cls.__qualname__}(**init_kwargs) would fail at load time ({exc}); pass "
            "init_kwargs={...} with the arguments that build this module"
        ) from None
    except ValueError:  # no introspectable signature (a C extension): checked at load
        pass
    return kwargs


class PytorchFlavor(Flavor):
    """PyTorch modules."""

    name = "pytorch"
    serializations = ("safetensors", *ser.PICKLE_FORMATS)

    def default_serialization(self, model: Any, options: dict[str, Any]) -> str:
        """safetensors when the class can be imported and rebuilt from ``init_kwargs``.

        Otherwise (a class defined in a notebook, a constructor that needs
        arguments nobody gave) cloudpickle, as MLflow stores every module.
        """
        cls = type(model)
        if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
            return "cloudpickle"
        try:
            _check_init_kwargs(cls, options.get("init_kwargs") or {})
        except InvalidInputError as exc:
            if options.get("init_kwargs") is not None:
                raise  # the caller meant safetensors: say what is wrong with the arguments
            log.info("%s: %s; storing the module with cloudpickle", cls.__qualname__, exc)
            return "cloudpickle"
        return "safetensors"

    def save(
        self, model: Any, path: Path, serialization: str, options: dict[str, Any]
    ) -> SavedFiles:
        """Write ``model.safetensors`` and the class path (or ``model.pkl``)."""
        torch = import_torch()
        if not isinstance(model, torch.nn.Module):
            raise InvalidInputError(
                f"nbtrack.pytorch takes a torch.nn.Module, got {type(model).__name__}"
            )
        config: dict[str, Any] = {"torch_version": str(torch.__version__)}
        if serialization == "safetensors":
            save_model = require(
                "safetensors.torch", extra="models", purpose="saving a PyTorch model"
            ).save_model

            cls_path = ser.class_path(type(model), "torch module")
            init_kwargs = _check_init_kwargs(type(model), options.get("init_kwargs") or {})
            # save_model (not save_file) keeps tied weights: one copy is stored
            # and load_model restores the sharing.
            save_model(model, str(path / "model.safetensors"))
            config.update(
                model_file="model.safetensors",
                **{"class": cls_path},
                init_kwargs=init_kwargs,
            )
            floats = {str(t.dtype) for t in model.state_dict().values() if t.is_floating_point()}
            if len(floats) == 1:  # e.g. a bfloat16 model is rebuilt in bfloat16, not float32
                config["dtype"] = floats.pop().removeprefix("torch.")
            return SavedFiles(config, ["torch", "safetensors", "numpy"])
        config["model_file"] = "model.pkl"
        config["pickle_module"] = ser.dump_pickle(model, path / "model.pkl")
        return SavedFiles(config, ["torch", "cloudpickle", "numpy"])

    def output_for_signature(self, model: Any, example: Any) -> Any:
        """The module's output for the example, as a numpy array.

        None (outputs not inferred, inputs still are) when the module returns
        several tensors: a signature describes one output tensor.
        """
        import numpy as np

        output = self.predict(model, example)
        return output if isinstance(output, np.ndarray) else None

    def load_native(self, path: Path, metadata: ModelMetadata, options: ser.LoadOptions) -> Any:
        """The module in eval mode."""
        torch = import_torch()
        file = model_file(path, metadata)
        if metadata.serialization != "safetensors":
            module = ser.load_pickle(file, options)
        else:
            module = _rebuild(torch, path, file, metadata.flavor_conf, options)
        module.eval()
        return module

    def predict(self, native: Any, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Forward pass without gradients; a DataFrame is taken as its values.

        A tensor output becomes a numpy array; a tuple/list or dict of tensors
        becomes a list or dict of arrays.
        """
        torch = import_torch()
        tensor = _to_tensor(torch, data)
        weight = next(iter(native.parameters()), None)
        if weight is not None:  # the module's device, and its float dtype for float input
            same_kind = tensor.is_floating_point() and weight.is_floating_point()
            tensor = tensor.to(device=weight.device, dtype=weight.dtype if same_kind else None)
        with torch.no_grad():
            output = native(tensor)
        return _to_numpy(torch, output)


def _rebuild(
    torch: Any, path: Path, file: Path, conf: Mapping[str, Any], options: ser.LoadOptions
) -> Any:
    """Import the module's class, build it from ``init_kwargs`` and load the weights."""
    load_model = require(
        "safetensors.torch", extra="models", purpose="loading a PyTorch model"
    ).load_model

    cls = _trust.resolve_class(str(conf.get("class")), "torch module", path, options)
    if not issubclass(cls, torch.nn.Module):
        raise ModelFormatError(f"{cls.__qualname__} is not a torch.nn.Module")
    init_kwargs = dict(conf.get("init_kwargs") or {})
    try:
        module = cls(**init_kwargs)
    except TypeError as exc:
        raise ModelFormatError(
            f"cannot build {cls.__qualname__}(**{init_kwargs!r}): {exc}. Its constructor "
            "changed since the model was saved: restore that code, or save the model again"
        ) from None
    dtype = getattr(torch, str(conf.get("dtype")), None)
    if isinstance(dtype, torch.dtype):
        module.to(dtype)
    try:
        load_model(module, str(file))
    except RuntimeError as exc:  # missing/unexpected keys or shapes that differ
        raise ModelFormatError(
            f"the saved weights do not fit {cls.__qualname__}(**{init_kwargs!r}): {exc}"
        ) from None
    return module


def _to_tensor(torch: Any, data: Any) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(data, torch.Tensor):
        return data
    if isinstance(data, pd.DataFrame | pd.Series):
        data = data.to_numpy()
    # pandas 3 hands out read-only arrays and torch.from_numpy warns on those:
    # take a writable, contiguous copy where needed.
    array = np.require(np.asarray(data), requirements=["C", "W"])
    if array.dtype.kind not in "biufc":  # torch.from_numpy's own error names numpy internals
        raise InvalidInputError(
            f"a torch model takes numeric input; got an array of dtype {array.dtype} "
            "(mixed or non-numeric values)"
        )
    return torch.from_numpy(array)


def _to_numpy(torch: Any, output: Any) -> Any:
    if isinstance(output, torch.Tensor):
        output = output.detach().cpu()
        numpy_floats = (torch.float16, torch.float32, torch.float64)
        if output.is_floating_point() and output.dtype not in numpy_floats:
            output = output.float()  # bfloat16, float8: numpy has no such dtype
        return output.numpy()
    if isinstance(output, tuple | list):
        return [_to_numpy(torch, o) for o in output]
    if isinstance(output, Mapping):
        return {k: _to_numpy(torch, v) for k, v in output.items()}
    return output


FLAVOR = PytorchFlavor()
