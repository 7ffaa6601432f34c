"""The ``pyfunc`` flavor: a user class with ``predict``, plus artifact files.

The model is any object with ``predict(model_input)`` or MLflow's
``predict(context, model_input)``; subclassing :class:`PythonModel` is optional.
``artifacts`` maps names to local files or directories, which are copied into
the model (``artifacts/<name>/...``); at load time ``context.artifacts[name]``
is the local path of each, and ``load_context(context)`` is called if defined.

Storage (``serialization="skops"``, the default): the class by import path,
and the object's attributes with skops (numbers, strings, arrays, scikit-learn
objects...; other types must be trusted at load time). The class must live in
an importable module. ``serialization="pickle"`` stores the whole object with
cloudpickle (classes defined in a notebook work) and needs ``allow_pickle=True``.
"""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrack.exceptions import InvalidInputError
from nbtrack.models import _serialization as ser
from nbtrack.models import _trust
from nbtrack.models._errors import ModelFormatError
from nbtrack.models._flavor import Flavor, SavedFiles
from nbtrack.models._format import ModelMetadata, model_file


@dataclass
class PythonModelContext:
    """What a :class:`PythonModel` gets at load time: local paths of its artifacts."""

    artifacts: dict[str, str] = field(default_factory=dict)
    model_config: dict[str, Any] = field(default_factory=dict)


class PythonModel:
    """Optional base class of custom models (MLflow's ``mlflow.pyfunc.PythonModel``)."""

    def load_context(self, context: PythonModelContext) -> None:
        """Called once after loading; read ``context.artifacts`` here."""

    def predict(
        self, context: PythonModelContext, model_input: Any, params: dict[str, Any] | None = None
    ) -> Any:
        """Return predictions for ``model_input``."""
        raise NotImplementedError


@dataclass
class LoadedPythonModel:
    """A user model as loaded, with the context its ``predict`` may take."""

    model: Any
    context: PythonModelContext


def _takes_context(predict: Any) -> bool:
    """Whether ``predict`` is MLflow's ``(context, model_input)`` rather than ``(model_input)``."""
    try:
        parameters = inspect.signature(predict).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "params"
    ]
    return len(positional) >= 2


class PythonModelFlavor(Flavor):
    """Custom Python models."""

    name = "pyfunc"
    serializations = ("skops", *ser.PICKLE_FORMATS)

    def save(
        self, model: Any, path: Path, serialization: str, options: dict[str, Any]
    ) -> SavedFiles:
        """Copy the artifacts, then store the object (class path + skops state, or pickle)."""
        if isinstance(model, type) or not callable(getattr(model, "predict", None)):
            raise InvalidInputError(
                f"nbtrack.pyfunc takes an object with a predict() method, got "
                f"{type(model).__name__}"
                + (" (a class: pass an instance)" if isinstance(model, type) else "")
            )
        config: dict[str, Any] = {"artifacts": _copy_artifacts(options.get("artifacts"), path)}
        distributions = ["numpy", "pandas"]
        if serialization == "skops":
            config["class"] = ser.class_path(type(model), "PythonModel")
            config["model_file"] = "python_model.skops"
            ser.dump_skops(dict(vars(model)), path / "python_model.skops")
            distributions.append("skops")
        else:
            config["model_file"] = "python_model.pkl"
            config["pickle_module"] = ser.dump_pickle(model, path / "python_model.pkl")
            distributions.append("cloudpickle")
        return SavedFiles(config, distributions)

    def load_native(
        self, path: Path, metadata: ModelMetadata, options: ser.LoadOptions
    ) -> LoadedPythonModel:
        """Rebuild the object, then call its ``load_context`` with the artifacts' paths."""
        file = model_file(path, metadata)
        if metadata.serialization == "skops":
            cls = _trust.resolve_class(
                str(metadata.flavor_conf.get("class")), "PythonModel", path, options
            )
            if not callable(getattr(cls, "predict", None)):
                raise ModelFormatError(f"{cls.__qualname__} has no predict method")
            state = ser.load_skops(file, options)
            if not isinstance(state, dict):
                raise ModelFormatError(f"{file} does not hold the model's attributes")
            model: Any = object.__new__(cls)
            model.__dict__.update(state)
        else:
            model = ser.load_pickle(file, options)
        artifacts = metadata.flavor_conf.get("artifacts") or {}
        context = PythonModelContext(
            {name: str((path / rel).resolve()) for name, rel in artifacts.items()}
        )
        load_context = getattr(model, "load_context", None)
        if callable(load_context):
            load_context(context)
        return LoadedPythonModel(model, context)

    def predict(self, native: LoadedPythonModel, data: Any) -> Any:
        """The user's ``predict``, with the context when it takes one."""
        predict = native.model.predict
        if _takes_context(predict):
            return predict(native.context, data)
        return predict(data)


def _copy_artifacts(artifacts: Mapping[str, Any] | None, path: Path) -> dict[str, str]:
    """Copy each artifact into ``artifacts/<name>/``; returns name -> relative path."""
    copied: dict[str, str] = {}
    for name, source in (artifacts or {}).items():
        if not name or "/" in name or name in (".", ".."):
            raise InvalidInputError(f"artifact name {name!r} must be a plain name such as 'vocab'")
        local = Path(source)
        target_dir = path / "artifacts" / name
        target_dir.mkdir(parents=True)
        if local.is_dir():
            shutil.copytree(local, target_dir / local.name)
        elif local.is_file():
            shutil.copy2(local, target_dir / local.name)
        else:
            raise InvalidInputError(f"artifact {name!r}: {local} does not exist")
        copied[name] = f"artifacts/{name}/{local.name}"
    return copied


FLAVOR = PythonModelFlavor()
