"""``mlflow.entities.file_info``: an artifact listing entry (nbtrack's :class:`ArtifactInfo`)."""

from __future__ import annotations

from nbtrack.entities import ArtifactInfo

#: MLflow's name for an artifact listing entry: ``path``, ``is_dir``, ``file_size``.
FileInfo = ArtifactInfo

__all__ = ["FileInfo"]
