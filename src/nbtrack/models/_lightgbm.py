"""The ``lightgbm`` flavor (see :mod:`nbtrack.models._boosting`)."""

from nbtrack.models._boosting import LIGHTGBM as FLAVOR

__all__ = ["FLAVOR"]
