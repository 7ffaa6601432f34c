"""MLflow's environment variables that nbtrack honours (``mlflow.environment_variables``).

Each is read when nbtrack's own (``NBTRACK_*``) is unset; see the README's
"Coming from MLflow" section.
"""

from __future__ import annotations

import os


class EnvironmentVariable:
    """A named environment variable: ``.name``, ``.defined``, ``.get()``."""

    def __init__(self, name: str, default: str | None = None) -> None:
        self.name = name
        self.default = default

    @property
    def defined(self) -> bool:
        """Whether it is set."""
        return self.name in os.environ

    def get(self) -> str | None:
        """Its value, else the default."""
        return os.environ.get(self.name, self.default)

    def set(self, value: str) -> None:
        """Set it in this process."""
        os.environ[self.name] = str(value)

    def unset(self) -> None:
        """Remove it from this process's environment."""
        os.environ.pop(self.name, None)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"EnvironmentVariable({self.name!r})"


MLFLOW_TRACKING_URI = EnvironmentVariable("MLFLOW_TRACKING_URI")
MLFLOW_REGISTRY_URI = EnvironmentVariable("MLFLOW_REGISTRY_URI")
MLFLOW_EXPERIMENT_NAME = EnvironmentVariable("MLFLOW_EXPERIMENT_NAME")
MLFLOW_EXPERIMENT_ID = EnvironmentVariable("MLFLOW_EXPERIMENT_ID")
MLFLOW_RUN_ID = EnvironmentVariable("MLFLOW_RUN_ID")
