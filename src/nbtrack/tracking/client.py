"""``mlflow.tracking.client.MlflowClient``: nbtrack's client with the registry methods."""

from nbtrack.registry import TrackingClient as MlflowClient

__all__ = ["MlflowClient"]
