"""The ``xgboost`` flavor (see :mod:`nbtrack.models._boosting`)."""

from nbtrack.models._boosting import XGBOOST as FLAVOR

__all__ = ["FLAVOR"]
