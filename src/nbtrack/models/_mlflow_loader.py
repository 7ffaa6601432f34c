"""MLflow's entry point into nbtrack models: the ``python_function`` flavor's ``loader_module``.

``mlflow.pyfunc.load_model(path)`` imports this module and calls
``_load_pyfunc(path)``; the directory's hashes are verified and the model is
loaded as nbtrack would load it. Nothing can be passed through MLflow's API,
so a model path given to MLflow is never trusted by nbtrack's store record:
pickled models load only with ``NBTRACK_ALLOW_PICKLE=1`` in the environment,
classes not yet imported only with ``NBTRACK_TRUST_CODE=1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbtrack.models._api import PyFuncModel, load_native
from nbtrack.models._format import read_metadata
from nbtrack.models._serialization import LoadOptions


class _MlflowWrapper:
    """What MLflow's ``PyFuncModel`` calls: ``predict(data, params=None)``."""

    def __init__(self, model: PyFuncModel) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """The nbtrack model's predictions (MLflow has already applied the signature)."""
        return self.model.predict(data)


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> _MlflowWrapper:
    """Load the nbtrack model in ``path`` for MLflow."""
    directory = Path(path)
    metadata = read_metadata(directory, source=path)
    native = load_native(directory, metadata, LoadOptions.from_environment())
    return _MlflowWrapper(PyFuncModel(metadata.flavor, native, metadata))
