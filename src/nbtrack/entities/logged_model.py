"""``mlflow.entities.logged_model``: MLflow 3's LoggedModel."""

from __future__ import annotations

from nbtrack.entities._logged_model import LoggedModel, LoggedModelMetric

__all__ = ["LoggedModel", "LoggedModelMetric"]
