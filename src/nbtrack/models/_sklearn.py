"""The ``sklearn`` flavor: any scikit-learn estimator or pipeline with ``predict``.

Stored with skops by default (``model.skops``); ``serialization="pickle"``
writes ``model.pkl`` with cloudpickle, which loads only with ``allow_pickle=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbtrack._optional import require
from nbtrack.exceptions import InvalidInputError
from nbtrack.models import _serialization as ser
from nbtrack.models._flavor import Flavor, SavedFiles
from nbtrack.models._format import ModelMetadata, model_file

_BASE_DISTRIBUTIONS = ["scikit-learn", "numpy", "scipy"]


class SklearnFlavor(Flavor):
    """scikit-learn estimators and pipelines."""

    name = "sklearn"
    serializations = ("skops", *ser.PICKLE_FORMATS)

    def save(
        self, model: Any, path: Path, serialization: str, options: dict[str, Any]
    ) -> SavedFiles:
        """Write ``model.skops`` (or ``model.pkl``)."""
        sklearn: Any = require("sklearn", extra="models", purpose="nbtrack.sklearn")
        base: Any = require("sklearn.base", extra="models", purpose="nbtrack.sklearn")
        estimator_class = base.BaseEstimator

        if not isinstance(model, estimator_class) or not callable(getattr(model, "predict", None)):
            raise InvalidInputError(
                f"nbtrack.sklearn takes a fitted scikit-learn estimator or pipeline with "
                f"predict(), got {type(model).__name__}; use nbtrack.pyfunc for other models"
            )
        config: dict[str, Any] = {"sklearn_version": sklearn.__version__}
        if serialization == "skops":
            config["model_file"] = "model.skops"
            ser.dump_skops(model, path / "model.skops")
            return SavedFiles(config, [*_BASE_DISTRIBUTIONS, "skops"])
        config["model_file"] = "model.pkl"
        config["pickle_module"] = ser.dump_pickle(model, path / "model.pkl")
        return SavedFiles(config, [*_BASE_DISTRIBUTIONS, "cloudpickle"])

    def output_for_signature(self, model: Any, example: Any) -> Any:
        """``model.predict(example)``."""
        return model.predict(example)

    def load_native(self, path: Path, metadata: ModelMetadata, options: ser.LoadOptions) -> Any:
        """The estimator, rebuilt by skops (or unpickled when allowed)."""
        file = model_file(path, metadata)
        if metadata.serialization == "skops":
            return ser.load_skops(file, options)
        return ser.load_pickle(file, options)

    def predict(self, native: Any, data: Any, params: dict[str, Any] | None = None) -> Any:
        """``estimator.predict(data)``."""
        return native.predict(data)


FLAVOR = SklearnFlavor()
