"""The ``pyfunc`` flavor: a user class with ``predict``, plus artifact files.

The model is any object with ``predict(model_input)`` or MLflow's
``predict(context, model_input)``; subclassing :class:`PythonModel` is optional.
``artifacts`` maps names to local files or directories, which are copied into
the model (``artifacts/<name>/...``); at load time ``context.artifacts[name]``
is the local path of each, and ``load_context(context)`` is called if defined.

Storage, chosen when ``serialization`` is not given: the class by import path
and the object's attributes with skops (``"skops"``: numbers, strings, arrays,
scikit-learn objects...) when the class lives in an importable module and
skops can store its attributes; otherwise the whole object with cloudpickle
(``"cloudpickle"``, MLflow's way: a class defined in a notebook works). Either
loads in one call from the store run that logged it; from anywhere else a
pickled model needs ``allow_pickle=True`` (see :mod:`nbtrack.models._trust`).

``artifacts`` values may be local paths or ``runs:/`` / ``models:/`` URIs of
this store (downloaded, hashes checked, then copied into the model).
"""

from __future__ import annotations

import inspect
import logging
import shutil
import tempfile
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
from nbtrack.models._uris import is_store_uri
from nbtrack.store.artifacts import normalize_artifact_path

log = logging.getLogger(__name__)


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

    def default_serialization(self, model: Any, options: dict[str, Any]) -> str:
        """skops for an importable class whose attributes skops stores; else cloudpickle."""
        _check_model(model)
        cls = type(model)
        if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
            return "cloudpickle"
        try:
            import skops.io  # type: ignore[import-untyped]

            untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(dict(vars(model))))
        except Exception as exc:  # skops refuses many types, each with its own error
            log.info("%s: attributes not storable with skops (%s); using cloudpickle", cls, exc)
            return "cloudpickle"
        if any(t.startswith("__main__.") or "<locals>" in t for t in untrusted):
            return "cloudpickle"  # a notebook-defined type inside: only pickle can rebuild it
        return "skops"

    def save(
        self, model: Any, path: Path, serialization: str, options: dict[str, Any]
    ) -> SavedFiles:
        """Copy the artifacts, then store the object (class path + skops state, or pickle)."""
        _check_model(model)
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
        context = PythonModelContext(_artifact_paths(path, metadata), dict(options.model_config))
        load_context = getattr(model, "load_context", None)
        if callable(load_context):
            load_context(context)
        return LoadedPythonModel(model, context)

    def predict(
        self, native: LoadedPythonModel, data: Any, params: dict[str, Any] | None = None
    ) -> Any:
        """The user's ``predict``, with the context when it takes one, and ``params`` if given."""
        predict = native.model.predict
        args = (native.context, data) if _takes_context(predict) else (data,)
        if params is not None and _takes_params(predict):
            return predict(*args, params=params)
        return predict(*args)


def _check_model(model: Any) -> None:
    if isinstance(model, type) or not callable(getattr(model, "predict", None)):
        raise InvalidInputError(
            f"nbtrack.pyfunc takes an object with a predict() method, got "
            f"{type(model).__name__}"
            + (" (a class: pass an instance)" if isinstance(model, type) else "")
        )


def _takes_params(predict: Any) -> bool:
    try:
        return "params" in inspect.signature(predict).parameters
    except (TypeError, ValueError):
        return False


def _artifact_paths(path: Path, metadata: ModelMetadata) -> dict[str, str]:
    """Name -> local path of each artifact, each checked to lie inside the model."""
    root = path.resolve()
    paths: dict[str, str] = {}
    for name, rel in dict(metadata.flavor_conf.get("artifacts") or {}).items():
        local = (root / normalize_artifact_path(str(rel), what="artifact path")).resolve()
        if not local.is_relative_to(root):
            raise ModelFormatError(f"artifact {name!r} ({rel!r}) lies outside the model")
        paths[str(name)] = str(local)
    return paths


def _copy_artifacts(artifacts: Mapping[str, Any] | None, path: Path) -> dict[str, str]:
    """Copy each artifact into ``artifacts/<name>/``; returns name -> relative path."""
    copied: dict[str, str] = {}
    for name, source in (artifacts or {}).items():
        if not name or "/" in name or name in (".", ".."):
            raise InvalidInputError(f"artifact name {name!r} must be a plain name such as 'vocab'")
        target_dir = path / "artifacts" / name
        target_dir.mkdir(parents=True)
        if isinstance(source, str) and is_store_uri(source):
            local = _download(source, Path(tempfile.mkdtemp(prefix="nbtrack-artifact-")))
        else:
            local = Path(source)
        try:
            if local.is_dir():
                shutil.copytree(local, target_dir / local.name)
            elif local.is_file():
                shutil.copy2(local, target_dir / local.name)
            else:
                raise InvalidInputError(f"artifact {name!r}: {local} does not exist")
        finally:
            if local != Path(source):
                shutil.rmtree(local.parent, ignore_errors=True)
        copied[name] = f"artifacts/{name}/{local.name}"
    return copied


def _download(uri: str, into: Path) -> Path:
    """A ``runs:/RUN/path`` or ``models:/...`` artifact of this store, copied into ``into``."""
    from nbtrack.client import TrackingClient
    from nbtrack.models import _uris

    client = TrackingClient()
    client.flush()
    if uri.startswith("runs:/"):
        run_id, rel = _uris.parse_runs_uri(uri)
        if not client.queries.artifact_files(run_id, rel):
            raise InvalidInputError(f"artifact {uri!r}: run {run_id} has nothing at {rel!r}")
        return Path(client.download_artifacts(run_id, rel, into))
    source = _uris.store_source(client, uri)
    target = into / (source.name or "model")
    return _uris.materialize(client, source.rows, target)


FLAVOR = PythonModelFlavor()
