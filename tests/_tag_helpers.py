"""Runs carry MLflow's system tags; tests about user tags look past them."""

from __future__ import annotations

from collections.abc import Mapping

SYSTEM_TAGS = frozenset(
    {
        "mlflow.runName",
        "mlflow.parentRunId",
        "mlflow.user",
        "mlflow.source.name",
        "mlflow.source.type",
        "mlflow.source.git.commit",
    }
)


def user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """``tags`` without the system tags nbtrack sets (as MLflow does) on every run."""
    return {k: v for k, v in tags.items() if k not in SYSTEM_TAGS}
