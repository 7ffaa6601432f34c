"""The ``pytorch`` flavor: a ``torch.nn.Module`` as its class path plus a safetensors state_dict.

Saved: ``model.safetensors`` (the ``state_dict``, tensors only: loading it runs
no code), the module's class as ``module:Class`` and the keyword arguments to
build it (``init_kwargs``, JSON values). Loaded: the class is imported, built
with those arguments, given the weights and put in ``eval()`` mode.
``serialization="pickle"`` stores the whole module with cloudpickle instead
(``allow_pickle=True`` to load). PyTorch is optional: ``pip install torch``.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from nbtrack.exceptions import InvalidInputError
from nbtrack.models import _serialization as ser
from nbtrack.models._errors import ModelFormatError
from nbtrack.models._flavor import Flavor, SavedFiles
from nbtrack.models._format import ModelMetadata, model_file


def import_torch() -> Any:
    """The ``torch`` module, or an error that says how to install it."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        raise ModelFormatError(
            "this model needs PyTorch, which is not installed: pip install torch"
        ) from None


class PytorchFlavor(Flavor):
    """PyTorch modules."""

    name = "pytorch"
    serializations = ("safetensors", *ser.PICKLE_FORMATS)

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
            from safetensors.torch import save_file

            init_kwargs = dict(options.get("init_kwargs") or {})
            try:
                json.dumps(init_kwargs)
            except TypeError as exc:
                raise InvalidInputError(
                    f"init_kwargs must be JSON values (numbers, strings, lists, dicts): {exc}"
                ) from None
            state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
            save_file(state, str(path / "model.safetensors"))
            config.update(
                model_file="model.safetensors",
                **{"class": ser.class_path(type(model), "torch module")},
                init_kwargs=init_kwargs,
            )
            return SavedFiles(config, ["torch", "safetensors", "numpy"])
        config["model_file"] = "model.pkl"
        config["pickle_module"] = ser.dump_pickle(model, path / "model.pkl")
        return SavedFiles(config, ["torch", "cloudpickle", "numpy"])

    def output_for_signature(self, model: Any, example: Any) -> Any:
        """The module's output for the example, as a numpy array."""
        return self.predict(model, example)

    def load_native(self, path: Path, metadata: ModelMetadata, options: ser.LoadOptions) -> Any:
        """The module in eval mode."""
        torch = import_torch()
        file = model_file(path, metadata)
        if metadata.serialization != "safetensors":
            module = ser.load_pickle(file, options)
        else:
            from safetensors.torch import load_file

            cls = ser.import_class(str(metadata.flavor_conf.get("class")), "torch module")
            if not issubclass(cls, torch.nn.Module):
                raise ModelFormatError(f"{cls.__qualname__} is not a torch.nn.Module")
            module = cls(**dict(metadata.flavor_conf.get("init_kwargs") or {}))
            module.load_state_dict(load_file(str(file)))
        module.eval()
        return module

    def predict(self, native: Any, data: Any) -> Any:
        """Forward pass without gradients; a DataFrame is taken as its values."""
        import numpy as np
        import pandas as pd

        torch = import_torch()
        if isinstance(data, pd.DataFrame):
            data = data.to_numpy()
        tensor = torch.from_numpy(np.ascontiguousarray(data))
        if tensor.dtype == torch.float64:
            parameters = list(native.parameters())
            if parameters:
                tensor = tensor.to(parameters[0].dtype)
        with torch.no_grad():
            output = native(tensor)
        return output.detach().cpu().numpy()


FLAVOR = PytorchFlavor()
