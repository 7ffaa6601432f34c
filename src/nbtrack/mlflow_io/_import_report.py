"""The report of ``nbtrack import-mlflow``: counts of what was (or would be) copied, warnings.

Filled by the run importer (:mod:`._import`) and the registry importer
(:mod:`._import_registry`), which import it from here rather than from each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ImportReport:
    """What an import copied (or, with ``dry_run``, would copy)."""

    dry_run: bool = False
    experiments_created: int = 0
    runs_imported: int = 0
    runs_unchanged: int = 0
    params: int = 0
    tags: int = 0
    metric_points: int = 0
    points_merged: int = 0
    artifacts: int = 0
    artifact_bytes: int = 0
    models_created: int = 0
    versions_imported: int = 0
    versions_unchanged: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line per kind of record, as the CLI prints it."""
        verb = "would copy" if self.dry_run else "copied"
        lines = [
            f"{verb}: {self.experiments_created} new experiment(s), {self.runs_imported} run(s) "
            f"({self.runs_unchanged} already imported), {self.params} param(s), "
            f"{self.tags} tag(s), {self.metric_points} metric point(s), "
            f"{self.artifacts} artifact file(s) ({self.artifact_bytes} bytes), "
            f"{self.models_created} new registered model(s), {self.versions_imported} model "
            f"version(s) ({self.versions_unchanged} already imported)",
        ]
        if self.points_merged:
            lines.append(
                f"{self.points_merged} metric point(s) shared a step with a later point of the "
                "same metric; nbtrack keeps one value per step (the latest)"
            )
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)
