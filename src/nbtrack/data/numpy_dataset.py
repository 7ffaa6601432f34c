"""Datasets from numpy arrays (MLflow's ``mlflow.data.numpy_dataset``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nbtrack.data._dataset import MAX_ROWS, Dataset, ensure_name, md5_digest
from nbtrack.data._dataset import resolve_source as _resolve_source

if TYPE_CHECKING:
    import numpy as np


def compute_numpy_digest(features: Any, targets: Any = None) -> str:
    """MLflow's digest of arrays (or dicts of arrays): their first elements and shapes."""
    import numpy as np
    import pandas as pd

    elements: list[Any] = []

    def add(array: np.ndarray) -> None:
        flat = np.asarray(array).flatten()[:MAX_ROWS]
        try:
            elements.append(pd.util.hash_array(flat))
        except TypeError:  # unhashable element types: their count stands in
            elements.append(np.int64(flat.size))
        elements.extend(np.int64(x) for x in np.shape(array))

    for item in (features, targets):
        if item is None:
            continue
        if isinstance(item, dict):
            for key in sorted(item):
                add(item[key])
        else:
            add(item)
    return md5_digest(elements)


def _spec(array: Any) -> str:
    """MLflow's tensor spec list of one array, as JSON text."""
    import numpy as np

    array = np.asarray(array)
    shape = [-1, *array.shape[1:]]
    return json.dumps(
        [{"type": "tensor", "tensor-spec": {"dtype": str(array.dtype), "shape": shape}}]
    )


class NumpyDataset(Dataset):
    """Arrays as a run's input: ``features`` and optional ``targets``."""

    def __init__(
        self,
        features: Any,
        source: Any = None,
        targets: Any = None,
        name: str | None = None,
        digest: str | None = None,
    ) -> None:
        source_dict, source_type = _resolve_source(source)
        super().__init__(
            ensure_name(name),
            digest or compute_numpy_digest(features, targets),
            source_dict,
            source_type,
        )
        self.features = features
        self.targets = targets

    @property
    def schema(self) -> dict[str, Any]:
        """Tensor specs of the features (and targets)."""
        targets = _spec(self.targets) if self.targets is not None else None
        return {"mlflow_tensorspec": {"features": _spec(self.features), "targets": targets}}

    @property
    def profile(self) -> dict[str, Any]:
        """Shapes and sizes."""
        import numpy as np

        features = np.asarray(self.features)
        profile: dict[str, Any] = {
            "features_shape": list(features.shape),
            "features_size": int(features.size),
            "features_nbytes": int(features.nbytes),
        }
        if self.targets is not None:
            targets = np.asarray(self.targets)
            profile.update(
                targets_shape=list(targets.shape),
                targets_size=int(targets.size),
                targets_nbytes=int(targets.nbytes),
            )
        return profile


def from_numpy(
    features: Any,
    source: Any = None,
    targets: Any = None,
    name: str | None = None,
    digest: str | None = None,
) -> NumpyDataset:
    """Describe numpy arrays as a dataset (log it with ``nbtrack.log_input``)."""
    return NumpyDataset(features, source, targets, name, digest)
