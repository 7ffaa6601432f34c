"""``nbtrack export-mlflow``: write nbtrack's experiments, runs and registry into an MLflow store.

Everything goes through MLflow's own client (``log_batch`` in MLflow's batch
limits), so MLflow's UI and client read the result. MLflow gives new runs new
ids: each exported run carries the tag ``nbtrack.run_id``, which lets a second
export skip what the first wrote and lets ``import-mlflow`` restore the id.
Model versions become MLflow logged models (their files, byte for byte) and
registered versions of them; a version carries ``nbtrack.version`` and
``nbtrack.source`` so the round trip keeps its number and source. MLflow
numbers versions itself: a model whose versions have gaps (deleted versions)
gets consecutive numbers in MLflow.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbtrack.client import ViewType
from nbtrack.entities import LifecycleStage, Run, RunStatus
from nbtrack.exceptions import NotFoundError
from nbtrack.mlflow_io._common import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    MAX_TAGS_PER_BATCH,
    RUN_ID_TAG,
    SOURCE_TAG,
    VERSION_TAG,
    chunks,
    file_store_allowed,
    mlflow_default_uri,
    mlflow_uri,
    mlflow_versions,
    require_mlflow,
)
from nbtrack.registry import TrackingClient
from nbtrack.store.artifacts import safe_destination


@dataclass
class ExportReport:
    """What an export wrote."""

    experiments_created: int = 0
    runs_exported: int = 0
    runs_unchanged: int = 0
    metric_points: int = 0
    artifacts: int = 0
    models_created: int = 0
    versions_exported: int = 0
    versions_unchanged: int = 0

    def summary(self) -> str:
        """One line, as the CLI prints it."""
        return (
            f"exported: {self.experiments_created} new experiment(s), {self.runs_exported} "
            f"run(s) ({self.runs_unchanged} already there), {self.metric_points} metric "
            f"point(s), {self.artifacts} artifact file(s), {self.models_created} new "
            f"registered model(s), {self.versions_exported} model version(s) "
            f"({self.versions_unchanged} already there)"
        )


def export_mlflow(
    dest: str, *, tracking_uri: str | None = None, experiments: Sequence[str] | None = None
) -> ExportReport:
    """Write the nbtrack store's experiments (all, or those named), runs and registry to ``dest``.

    ``dest`` is an MLflow tracking URI or a ``./mlruns`` directory (created if needed).
    """
    # The nbtrack store is opened before MLflow's URI is set (MLFLOW_TRACKING_URI,
    # which nbtrack's default honours, names the destination while the export
    # runs) and read before the destination is created: a missing store is an
    # error that leaves no empty MLflow store behind.
    source = TrackingClient(tracking_uri, readonly=True)
    chosen = _chosen_experiments(source, experiments)
    uri = mlflow_uri(dest, must_exist=False)
    with file_store_allowed(uri), mlflow_default_uri(uri):
        return _Exporter(dest, source, chosen, only_named=bool(experiments)).run()


def _chosen_experiments(source: TrackingClient, names: Sequence[str] | None) -> list[Any]:
    """The experiments to export: all of ``source``'s, or those ``names`` name (each must exist)."""
    found = source.search_experiments(view_type=ViewType.ALL)
    if not names:
        return found
    by_name = {e.name: e for e in found}
    for name in names:
        if name not in by_name:
            raise NotFoundError(f"no experiment {name!r} in {source.tracking_uri}")
    return [by_name[n] for n in names]


class _Exporter:
    def __init__(
        self, dest: str, source: TrackingClient, experiments: list[Any], *, only_named: bool
    ) -> None:
        require_mlflow()
        from mlflow import MlflowClient

        self.dest_uri = mlflow_uri(dest, must_exist=False)
        self.dst = MlflowClient(tracking_uri=self.dest_uri, registry_uri=self.dest_uri)
        self.src = source
        self.experiments = experiments
        #: Only the named experiments: model versions of other runs stay behind.
        self.only_named = only_named
        self.report = ExportReport()
        #: nbtrack run id -> (MLflow run id, MLflow experiment id).
        self.runs: dict[str, tuple[str, str]] = {}
        self.parents: dict[str, str] = {}

    def run(self) -> ExportReport:
        for experiment in self.experiments:
            self._export_experiment(experiment)
        for child, parent in self.parents.items():
            if parent in self.runs and child in self.runs:
                self.dst.set_tag(self.runs[child][0], "mlflow.parentRunId", self.runs[parent][0])
        self._export_registry()
        return self.report

    def _export_experiment(self, experiment: Any) -> None:
        from mlflow.entities import ViewType as MlflowView

        target = self.dst.get_experiment_by_name(experiment.name)
        if target is None:
            experiment_id = self.dst.create_experiment(experiment.name, tags=experiment.tags)
            self.report.experiments_created += 1
        else:
            experiment_id = target.experiment_id
            if target.lifecycle_stage == LifecycleStage.DELETED:
                self.dst.restore_experiment(experiment_id)
            for key, value in experiment.tags.items():
                if target.tags.get(key) != value:
                    self.dst.set_experiment_tag(experiment_id, key, value)
        there: dict[str, Any] = {}
        token = None
        while True:
            page = self.dst.search_runs(
                [experiment_id], run_view_type=MlflowView.ALL, max_results=1000, page_token=token
            )
            for mlflow_run in page:
                key = mlflow_run.data.tags.get(RUN_ID_TAG) or mlflow_run.info.run_id
                before = there.get(key)
                # A run replaced by a later export is in MLflow's trash: the live one counts.
                if before is None or before.info.lifecycle_stage == LifecycleStage.DELETED:
                    there[key] = mlflow_run
            token = page.token
            if not token:
                break
        runs = self.src.search_runs(
            [experiment.experiment_id],
            run_view_type=ViewType.ALL,
            max_results=None,
            order_by=["start_time ASC"],
        )
        for run in runs:
            self._export_run(run, experiment_id, there.get(run.info.run_id))
        if experiment.lifecycle_stage == LifecycleStage.DELETED:
            self.dst.delete_experiment(experiment_id)

    def _export_run(self, run: Run, experiment_id: str, existing: Any) -> None:
        info = run.info
        if info.parent_run_id:
            self.parents[info.run_id] = info.parent_run_id
        if existing is not None:
            same = existing.info.status == info.status and existing.info.end_time == info.end_time
            if same and RunStatus(info.status).is_terminal:
                self.runs[info.run_id] = (existing.info.run_id, experiment_id)
                self.report.runs_unchanged += 1
                return
            self.dst.delete_run(existing.info.run_id)  # cut short or changed since: write anew
        from mlflow.entities import Metric, Param, RunTag

        created = self.dst.create_run(
            experiment_id,
            start_time=info.start_time,
            tags={"mlflow.user": info.user_id, RUN_ID_TAG: info.run_id},
            run_name=info.run_name or None,
        )
        mlflow_id = created.info.run_id
        self.runs[info.run_id] = (mlflow_id, experiment_id)
        self.report.runs_exported += 1
        params = [Param(k, v) for k, v in run.data.params.items()]
        tags = [RunTag(k, v) for k, v in run.data.tags.items() if k != RUN_ID_TAG]
        for part in chunks(params, MAX_PARAMS_PER_BATCH):
            self.dst.log_batch(mlflow_id, params=part)
        for part in chunks(tags, MAX_TAGS_PER_BATCH):
            self.dst.log_batch(mlflow_id, tags=part)
        for key in self.src.get_metric_keys(info.run_id):
            history = self.src.get_metric_history(info.run_id, key)
            self.report.metric_points += len(history)
            points = [Metric(key, m.value, m.timestamp, m.step) for m in history]
            for part in chunks(points, MAX_METRICS_PER_BATCH):
                self.dst.log_batch(mlflow_id, metrics=part)
        self._export_artifacts(info.run_id, mlflow_id)
        if RunStatus(info.status).is_terminal:
            self.dst.set_terminated(mlflow_id, info.status, info.end_time)
        if info.lifecycle_stage == LifecycleStage.DELETED:
            self.dst.delete_run(mlflow_id)

    def _export_artifacts(self, run_id: str, mlflow_id: str) -> None:
        rows = self.src.queries.artifact_files(run_id)
        if not rows:
            return
        with tempfile.TemporaryDirectory(prefix="nbtrack-export-") as tmp:
            self.src.download_artifacts(run_id, "", tmp)  # checked, in parallel
            self.dst.log_artifacts(mlflow_id, tmp)
        self.report.artifacts += len(rows)

    # -- registry -----------------------------------------------------------------------

    def _export_registry(self) -> None:
        for model in self.src.search_registered_models(max_results=None):
            versions = sorted(
                self.src.search_model_versions(
                    f"name = '{model.name.replace(chr(39), chr(39) * 2)}'", max_results=None
                ),
                key=lambda v: int(v.version),
            )
            if self.only_named:
                versions = [v for v in versions if v.run_id in self.runs]
                if not versions:
                    continue
            self._export_model(model, versions)

    def _export_model(self, model: Any, versions: list[Any]) -> None:
        from mlflow.exceptions import MlflowException

        try:
            there = self.dst.get_registered_model(model.name)
        except MlflowException:
            there = None
        if there is None:
            self.dst.create_registered_model(
                model.name, tags=model.tags, description=model.description
            )
            self.report.models_created += 1
        else:
            for key, value in model.tags.items():
                if there.tags.get(key) != value:
                    self.dst.set_registered_model_tag(model.name, key, value)
        exported: dict[int, str] = {}
        for mv in mlflow_versions(self.dst, model.name):
            exported[int(mv.tags.get(VERSION_TAG) or mv.version)] = mv.version
        for version in versions:
            number = int(version.version)
            if number in exported:
                self.report.versions_unchanged += 1
                continue
            exported[number] = self._export_version(model.name, number)
            self.report.versions_exported += 1
        for alias, version in model.aliases.items():
            if int(version) in exported:
                self.dst.set_registered_model_alias(model.name, alias, exported[int(version)])

    def _export_version(self, name: str, number: int) -> str:
        mv = self.src.get_model_version(name, number)
        run = self.runs.get(mv.run_id or "")
        experiment_id = run[1] if run else "0"
        logged = self.dst.create_logged_model(
            experiment_id=experiment_id,
            name=f"{name}-v{number}",
            source_run_id=run[0] if run else None,
            tags={VERSION_TAG: str(number)},  # import skips it: the version holds these files
        )
        with tempfile.TemporaryDirectory(prefix="nbtrack-export-") as tmp:
            root = Path(tmp)
            for path, sha in mv.files.items():
                self.src.blobs_holding(sha).copy_to(sha, safe_destination(root, path))
            self.dst.log_model_artifacts(logged.model_id, tmp)
        self.dst.finalize_logged_model(logged.model_id, "READY")
        tags = dict(mv.tags)
        tags[VERSION_TAG] = str(number)
        tags[SOURCE_TAG] = mv.source
        created = self.dst.create_model_version(
            name,
            source=f"models:/{logged.model_id}",
            run_id=run[0] if run else None,
            tags=tags,
            description=mv.description,
            model_id=logged.model_id,
        )
        if mv.current_stage != "None":
            # MLflow deprecates stages (FutureWarning) but still stores them; the
            # user's stage is exported as it is.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                self.dst.transition_model_version_stage(name, created.version, mv.current_stage)
        return str(created.version)
