"""The ``xgboost`` and ``lightgbm`` flavors: boosters in the libraries' own formats.

XGBoost models are stored as ``model.json`` (``save_model``'s JSON), LightGBM
models as ``model.txt`` (its text format): neither runs code when loaded, so
no pickle is involved. An XGBoost scikit-learn wrapper (``XGBClassifier``, ...)
is rebuilt as that class, chosen from a fixed list (the class named in the
MLmodel file is checked against it before anything is imported); LightGBM's
wrappers are stored and loaded as their ``lightgbm.Booster`` (``predict``
returns what the booster does: class probabilities for a classifier).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbtrack.exceptions import InvalidInputError
from nbtrack.models import _serialization as ser
from nbtrack.models._errors import ModelFormatError
from nbtrack.models._flavor import Flavor, SavedFiles
from nbtrack.models._format import ModelMetadata, model_file

#: XGBoost scikit-learn wrappers a model may be rebuilt as (nothing else is imported).
XGB_CLASSES = {
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
    "xgboost.sklearn.XGBRanker",
    "xgboost.sklearn.XGBRFClassifier",
    "xgboost.sklearn.XGBRFRegressor",
}
XGB_BOOSTER = "xgboost.core.Booster"


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__name__}"


class XGBoostFlavor(Flavor):
    """``xgboost.Booster`` and XGBoost's scikit-learn wrappers, as JSON."""

    name = "xgboost"
    serializations = ("json",)

    def save(
        self, model: Any, path: Path, serialization: str, options: dict[str, Any]
    ) -> SavedFiles:
        """Write ``model.json`` with XGBoost's own ``save_model``."""
        import xgboost

        kind = _class_path(model)
        if kind != XGB_BOOSTER and kind not in XGB_CLASSES:
            raise InvalidInputError(
                f"nbtrack.xgboost takes an xgboost.Booster or XGBClassifier/XGBRegressor/..., "
                f"got {type(model).__name__}"
            )
        model.save_model(str(path / "model.json"))
        config = {"xgb_version": xgboost.__version__, "model_file": "model.json",
                  "model_class": kind}  # fmt: skip
        return SavedFiles(config, ["xgboost", "numpy"])

    def output_for_signature(self, model: Any, example: Any) -> Any:
        """The model's predictions for the example."""
        return self.predict(model, example)

    def load_native(self, path: Path, metadata: ModelMetadata, options: ser.LoadOptions) -> Any:
        """The booster or wrapper, read back from ``model.json``."""
        import xgboost

        kind = str(metadata.flavor_conf.get("model_class", XGB_BOOSTER))
        file = str(model_file(path, metadata))
        if kind == XGB_BOOSTER:
            return xgboost.Booster(model_file=file)
        if kind not in XGB_CLASSES:
            raise ModelFormatError(f"model_class {kind!r} is not an XGBoost model class")
        model = getattr(xgboost, kind.rsplit(".", 1)[1])()
        model.load_model(file)
        return model

    def predict(self, native: Any, data: Any, params: dict[str, Any] | None = None) -> Any:
        """``predict``; a bare booster gets its input as a ``DMatrix``."""
        import xgboost

        if isinstance(native, xgboost.Booster):
            return native.predict(xgboost.DMatrix(data))
        return native.predict(data)


class LightGBMFlavor(Flavor):
    """``lightgbm.Booster`` (and the booster of LightGBM's wrappers), as text."""

    name = "lightgbm"
    serializations = ("text",)

    def save(
        self, model: Any, path: Path, serialization: str, options: dict[str, Any]
    ) -> SavedFiles:
        """Write ``model.txt`` with LightGBM's own ``save_model``."""
        import lightgbm

        booster = getattr(model, "booster_", model)  # LGBMClassifier & co: their booster
        if not isinstance(booster, lightgbm.Booster):
            raise InvalidInputError(
                f"nbtrack.lightgbm takes a lightgbm.Booster or a fitted LGBMModel, "
                f"got {type(model).__name__}"
            )
        booster.save_model(str(path / "model.txt"))
        config = {"lgb_version": lightgbm.__version__, "model_file": "model.txt",
                  "model_class": _class_path(model)}  # fmt: skip
        return SavedFiles(config, ["lightgbm", "numpy"])

    def output_for_signature(self, model: Any, example: Any) -> Any:
        """The model's predictions for the example."""
        return model.predict(example)

    def load_native(self, path: Path, metadata: ModelMetadata, options: ser.LoadOptions) -> Any:
        """A ``lightgbm.Booster`` read back from ``model.txt``."""
        import lightgbm

        return lightgbm.Booster(model_file=str(model_file(path, metadata)))

    def predict(self, native: Any, data: Any, params: dict[str, Any] | None = None) -> Any:
        """``booster.predict(data)``."""
        return native.predict(data)


XGBOOST = XGBoostFlavor()
LIGHTGBM = LightGBMFlavor()
