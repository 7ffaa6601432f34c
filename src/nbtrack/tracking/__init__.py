"""MLflow's ``mlflow.tracking`` layout: ``MlflowClient`` and the fluent module.

``from mlflow.tracking import MlflowClient`` and ``mlflow.tracking.fluent``
ported to nbtrack name the same objects: ``nbtrack.tracking.fluent`` *is*
:mod:`nbtrack.fluent` (so state such as the active experiment is shared).
"""

import sys

from nbtrack import fluent
from nbtrack._fluent_more import get_registry_uri, set_registry_uri
from nbtrack.fluent import get_tracking_uri, set_tracking_uri
from nbtrack.tracking.client import MlflowClient

# One module under both names, so that setting mlflow.tracking.fluent.X sets nbtrack.fluent.X.
sys.modules[f"{__name__}.fluent"] = fluent

__all__ = [
    "MlflowClient",
    "fluent",
    "get_registry_uri",
    "get_tracking_uri",
    "set_registry_uri",
    "set_tracking_uri",
]
