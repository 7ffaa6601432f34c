"""The interface every flavor implements, and the table of flavors."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from nbtrack.models._errors import ModelFormatError
from nbtrack.models._format import ModelMetadata
from nbtrack.models._serialization import LoadOptions

# Flavor name -> module defining ``FLAVOR``; imported on first use.
_MODULES = {
    "sklearn": "nbtrack.models._sklearn",
    "pyfunc": "nbtrack.models._python_model",
    "pytorch": "nbtrack.models._pytorch",
    "xgboost": "nbtrack.models._xgboost",
    "lightgbm": "nbtrack.models._lightgbm",
}


@dataclass
class SavedFiles:
    """What a flavor's ``save`` wrote: its ``MLmodel`` config and libraries to pin."""

    config: dict[str, Any]
    distributions: list[str] = field(default_factory=list)


class Flavor:
    """Saving, loading and predicting for one kind of model."""

    name: ClassVar[str]
    serializations: ClassVar[tuple[str, ...]]

    def save(
        self, model: Any, path: Path, serialization: str, options: dict[str, Any]
    ) -> SavedFiles:
        """Write the model's own files into ``path``."""
        raise NotImplementedError

    def default_serialization(self, model: Any, options: dict[str, Any]) -> str:
        """The serialization when none is asked for: the flavor's first (safe) one."""
        return self.serializations[0]

    def output_for_signature(self, model: Any, example: Any) -> Any:
        """The in-memory model's output for the input example (None: not inferred)."""
        return None

    def load_native(self, path: Path, metadata: ModelMetadata, options: LoadOptions) -> Any:
        """The flavor's own object (an estimator, a module, a PythonModel)."""
        raise NotImplementedError

    def predict(self, native: Any, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predictions of a loaded model for input already checked against the signature.

        ``params`` (MLflow's inference parameters) reach flavors that take them.
        """
        raise NotImplementedError


def flavor_named(name: str) -> Flavor:
    """The flavor called ``name``."""
    module = _MODULES.get(name)
    if module is None:
        raise ModelFormatError(
            f"unknown model flavor {name!r}; this nbtrack knows {', '.join(sorted(_MODULES))}"
        )
    flavor: Flavor = importlib.import_module(module).FLAVOR
    return flavor
