"""One-line logging and registration of an in-memory model (``%track register``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbtrack.exceptions import InvalidInputError
from nbtrack.models._api import ModelInfo, log_model

if TYPE_CHECKING:
    from nbtrack.client import TrackingClient


def detect_flavor(model: Any) -> str:
    """``sklearn`` for scikit-learn estimators, ``pytorch`` for torch modules, else ``pyfunc``."""
    modules = {cls.__module__.split(".", 1)[0] for cls in type(model).__mro__}
    if "sklearn" in modules:
        return "sklearn"
    if "torch" in modules:
        return "pytorch"
    if callable(getattr(model, "predict", None)):
        return "pyfunc"
    raise InvalidInputError(
        f"{type(model).__name__} is not a model nbtrack can log: give a scikit-learn "
        "estimator, a torch module, or an object with a predict() method"
    )


def _free_path(client: TrackingClient, run_id: str, wanted: str) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3``... if the run already has it."""
    path, n = wanted, 1
    while client.queries.artifact_files(run_id, path):
        n += 1
        path = f"{wanted}-{n}"
    return path


def log_and_register(
    model: Any,
    name: str,
    *,
    flavor: str | None = None,
    artifact_path: str = "model",
    input_example: Any = None,
    serialization: str | None = None,
) -> ModelInfo:
    """Log ``model`` to the active run (started if none) and register it as ``name``.

    A run that already has ``artifact_path`` gets ``artifact_path-2``, ``-3``...,
    so re-running a notebook cell never fails on the name.
    """
    from nbtrack import fluent

    kind = flavor or detect_flavor(model)
    run = fluent.active_run() or fluent.start_run()
    run.client.flush()
    default_serialization = "safetensors" if kind == "pytorch" else "skops"
    return log_model(
        kind,
        model,
        _free_path(run.client, run.info.run_id, artifact_path),
        input_example=input_example,
        serialization=serialization or default_serialization,
        registered_model_name=name,
    )
