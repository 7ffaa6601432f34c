"""``mlflow.entities.metric``: one point of a metric series."""

from __future__ import annotations

from nbtrack.entities import Metric

__all__ = ["Metric"]
