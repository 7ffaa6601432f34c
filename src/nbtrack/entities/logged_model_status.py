"""``mlflow.entities.logged_model_status``: PENDING, READY or FAILED."""

from __future__ import annotations

from nbtrack.entities._logged_model import LoggedModelStatus

__all__ = ["LoggedModelStatus"]
