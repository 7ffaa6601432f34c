"""MLflow's ``mlflow.utils`` names that user code imports (``mlflow_tags``)."""

from nbtrack.utils import mlflow_tags

__all__ = ["mlflow_tags"]
