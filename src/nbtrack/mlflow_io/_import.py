"""``nbtrack import-mlflow``: copy an MLflow store's experiments, runs and registry into nbtrack.

MLflow's own client reads the source (any store it reads: SQLite,
PostgreSQL, a ``./mlruns`` directory), a page of runs at a time. Run ids are
kept, so a second import finds what the first copied: a run already imported
with the same status and end time is skipped, a run whose import was cut
short (still RUNNING here) is imported again, which rewrites the same rows.

Nothing the source names is trusted: run ids must be 32 hex characters,
artifact paths must stay inside their run, names pass nbtrack's checks, and
model files are copied as bytes (a model is never loaded or unpickled here).

MLflow keeps every point of a metric, several at one step if logged so; nbtrack
keeps one value per step (the latest logged). Such points are counted in the
report (``points_merged``) and warned about.
"""

from __future__ import annotations

import logging
import math
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from nbtrack import _validation as check
from nbtrack.entities import LifecycleStage, Metric, RunStatus
from nbtrack.exceptions import InvalidInputError, NotFoundError
from nbtrack.mlflow_io._common import (
    BOOKKEEPING_TAGS,
    FIELD_TAGS,
    RUN_ID_TAG,
    VERSION_TAG,
    checked_path,
    file_store_allowed,
    mlflow_default_uri,
    mlflow_uri,
    regular_files,
    require_mlflow,
    valid_run_id,
)
from nbtrack.mlflow_io._import_logged_models import record_logged_model
from nbtrack.mlflow_io._import_registry import RegistryImport
from nbtrack.mlflow_io._import_report import ImportReport
from nbtrack.registry import TrackingClient

log = logging.getLogger(__name__)
_PAGE = 1000
#: Points per log_batch call into nbtrack (one writer transaction each).
_POINTS_PER_BATCH = 100_000


def import_mlflow(
    source: str,
    *,
    tracking_uri: str | None = None,
    experiments: Sequence[str] | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Copy experiments, runs, artifacts and the registry of the MLflow store ``source``.

    ``experiments`` limits the import to those experiment names (and the model
    versions of their runs). ``dry_run`` reads everything and writes nothing:
    not even an empty nbtrack store is created.
    """
    uri = mlflow_uri(source, must_exist=True)
    # The nbtrack store is found before MLflow's URI is set: MLFLOW_TRACKING_URI,
    # which nbtrack's default honours, names the source while the import runs.
    tracking_uri = TrackingClient(tracking_uri).tracking_uri
    with file_store_allowed(uri), mlflow_default_uri(uri):
        return _Importer(source, tracking_uri, experiments, dry_run).run()


_MAX = sys.float_info.max


def _unclipped(point: Metric) -> Metric:
    """+-inf for the +-max float that MLflow's SQL store writes in place of an infinity."""
    if abs(point.value) == _MAX:
        return point._replace(value=math.copysign(math.inf, point.value))
    return point


class _Importer(RegistryImport):
    def __init__(
        self,
        source: str,
        tracking_uri: str | None,
        experiments: Sequence[str] | None,
        dry_run: bool,
    ) -> None:
        mlflow = require_mlflow()
        from mlflow import MlflowClient

        self.mlflow = mlflow
        self.source_uri = mlflow_uri(source, must_exist=True)
        self.src = MlflowClient(tracking_uri=self.source_uri, registry_uri=self.source_uri)
        self.names = list(experiments) if experiments else None
        # MLflow's SQL store writes +-inf as +-max float (its file store keeps inf).
        self.clips_inf = not self.source_uri.startswith("file:")
        self.dry_run = dry_run
        self.report = ImportReport(dry_run=dry_run)
        self.dst: TrackingClient | None = None
        if dry_run:
            try:  # what exists decides what would be copied; nothing is created
                probe = TrackingClient(tracking_uri, readonly=True)
                probe.open()  # a missing store raises here
                self.dst = probe
            except NotFoundError:
                self.dst = None
        else:
            self.dst = TrackingClient(tracking_uri)
        #: MLflow run id -> nbtrack run id, for parents and model versions.
        self.run_ids: dict[str, str] = {}
        self.parents: dict[str, str] = {}
        #: MLflow 3 logged models of the experiment being imported, by source run id.
        self.logged_models: dict[str, list[Any]] = {}

    # -- top level ----------------------------------------------------------------------

    def run(self) -> ImportReport:
        for experiment in self._experiments():
            self._import_experiment(experiment)
        self._link_parents()
        self._import_registry()
        if self.dst is not None and not self.dry_run:
            self.dst.flush()
        return self.report

    def _experiments(self) -> list[Any]:
        from mlflow.entities import ViewType

        found: list[Any] = []
        token = None
        while True:
            page = self.src.search_experiments(
                view_type=ViewType.ALL, max_results=_PAGE, page_token=token
            )
            found.extend(page)
            token = page.token
            if not token:
                break
        if self.names is None:
            return found
        by_name = {e.name: e for e in found}
        missing = [n for n in self.names if n not in by_name]
        if missing:
            known = ", ".join(repr(n) for n in sorted(by_name)[:10])
            raise NotFoundError(
                f"no experiment {missing[0]!r} in {self.source_uri} (it has {known})"
            )
        return [by_name[n] for n in self.names]

    # -- experiments and runs -----------------------------------------------------------

    def _import_experiment(self, experiment: Any) -> None:
        name = check.experiment_name(experiment.name)
        tags = {
            check.key(k, "experiment tag"): check.tag_value(k, v)
            for k, v in experiment.tags.items()
        }
        existing = self.dst.get_experiment_by_name(name) if self.dst is not None else None
        stage = LifecycleStage(experiment.lifecycle_stage)
        if existing is None:
            self.report.experiments_created += 1
            if self.dry_run:
                experiment_id = None
            else:
                assert self.dst is not None
                experiment_id = self.dst.imports.insert_experiment(
                    name,
                    tags=tags,
                    creation_time=experiment.creation_time or 0,
                    last_update_time=experiment.last_update_time or experiment.creation_time or 0,
                    lifecycle_stage=LifecycleStage.ACTIVE,  # runs go in first; trashed below
                )
        else:
            experiment_id = existing.experiment_id
            changed = {k: v for k, v in tags.items() if existing.tags.get(k) != v}
            if changed and not self.dry_run:
                assert self.dst is not None
                self.dst.imports.set_experiment_tags(experiment_id, changed)
            if existing.lifecycle_stage != LifecycleStage.ACTIVE and not self.dry_run:
                assert self.dst is not None
                self.dst.restore_experiment(experiment_id)  # to add runs; trashed again below
        self.logged_models = self._logged_models(experiment.experiment_id)
        for page in self._run_pages(experiment.experiment_id):
            self._import_runs(page, experiment_id)
        if experiment_id is not None and not self.dry_run:
            assert self.dst is not None
            if stage == LifecycleStage.DELETED or (
                existing is not None and existing.lifecycle_stage == LifecycleStage.DELETED
            ):
                self.dst.delete_experiment(experiment_id)

    def _logged_models(self, experiment_id: str) -> dict[str, list[Any]]:
        """MLflow 3 logged models of the experiment's runs, by source run id.

        MLflow 3 keeps a model logged in a run (``log_model(..., name="model")``)
        apart from the run's artifacts; the import stores its files as the run's
        artifacts under the model's name, where nbtrack keeps a run's models.
        Models that ``export-mlflow`` made from registry versions are skipped.
        """
        found: dict[str, list[Any]] = {}
        token = None
        while True:
            page = self.src.search_logged_models(
                experiment_ids=[experiment_id], max_results=100, page_token=token
            )
            for model in page:
                if model.source_run_id and VERSION_TAG not in (model.tags or {}):
                    found.setdefault(model.source_run_id, []).append(model)
            token = page.token
            if not token:
                return found

    def _run_pages(self, experiment_id: str) -> Iterator[list[Any]]:
        from mlflow.entities import ViewType

        token = None
        while True:
            page = self.src.search_runs(
                [experiment_id], run_view_type=ViewType.ALL, max_results=_PAGE, page_token=token
            )
            yield list(page)
            token = page.token
            if not token:
                return

    def _import_runs(self, runs: list[Any], experiment_id: str | None) -> None:
        targets = [self._target_id(run) for run in runs]
        done = self.dst.imports.run_summary(targets) if self.dst is not None else {}
        for run, target in zip(runs, targets, strict=True):
            info = run.info
            status = RunStatus(info.status)
            parent = run.data.tags.get("mlflow.parentRunId")
            if parent:
                self.parents[target] = valid_run_id(parent, f"parent of run {info.run_id}")
            before = done.get(target)
            if (
                before is not None
                and status.is_terminal
                and before == (status.value, info.end_time)
            ):
                self.report.runs_unchanged += 1
                continue
            self.report.runs_imported += 1
            self._import_run(run, target, experiment_id, exists=before is not None)

    def _target_id(self, run: Any) -> str:
        """The nbtrack id of an MLflow run: its own, or the nbtrack run it was exported from."""
        source_id = valid_run_id(run.info.run_id, "MLflow run")
        exported = run.data.tags.get(RUN_ID_TAG)
        target = (
            valid_run_id(exported, f"tag {RUN_ID_TAG} of run {source_id}")
            if exported
            else source_id
        )
        self.run_ids[source_id] = target
        return target

    def _import_run(self, run: Any, target: str, experiment_id: str | None, exists: bool) -> None:
        info = run.info
        where = f"run {info.run_id}"
        name = info.run_name or run.data.tags.get("mlflow.runName") or ""
        params = [
            (check.key(k, "parameter name"), check.param_value(k, v))
            for k, v in run.data.params.items()
        ]
        tags = [
            (check.key(k, "tag name"), check.tag_value(k, v))
            for k, v in run.data.tags.items()
            if k not in FIELD_TAGS and k not in BOOKKEEPING_TAGS
        ]
        histories = {key: self._history(info.run_id, key) for key in run.data.metrics}
        files = self._artifact_files(info.run_id, "", where)
        models = self._run_models(info.run_id, {p for p, _ in files}, where)
        self.report.params += len(params)
        self.report.tags += len(tags)
        self.report.artifacts += len(files) + sum(len(m[2]) for m in models)
        self.report.artifact_bytes += sum(size or 0 for _, size in files)
        self.report.artifact_bytes += sum(size or 0 for m in models for _, size in m[2])
        points = sum(len(h) for h in histories.values())
        self.report.metric_points += points
        if self.dry_run:
            return
        assert self.dst is not None
        assert experiment_id is not None
        dst = self.dst
        if not exists:
            dst.imports.insert_run(
                run_id=target,
                experiment_id=experiment_id,
                name=check.run_name(name) or "" if name else "",
                start_time=info.start_time or 0,
                user_id=info.user_id or "",
            )
        elif dst.get_run(target).info.lifecycle_stage == LifecycleStage.DELETED:
            dst.restore_run(target)
        dst.log_batch(target, params=params, tags=tags)
        for history in histories.values():
            for start in range(0, len(history), _POINTS_PER_BATCH):
                dst.log_batch(target, metrics=history[start : start + _POINTS_PER_BATCH])
        self._copy_artifacts(info.run_id, target, files, where)
        for prefix, model_id, model_files in models:
            self._copy_model_files(model_id, target, prefix, model_files, where)
            # Its id too, so get_logged_model(id) and models:/<id> answer here.
            record_logged_model(
                dst, self.src.get_logged_model(model_id), experiment_id, target, prefix
            )
        status = RunStatus(info.status)
        if status.is_terminal:
            dst.set_terminated(target, status, info.end_time or info.start_time)
        if info.lifecycle_stage == LifecycleStage.DELETED:
            dst.delete_run(target)

    def _history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of a metric, one per step (the latest logged wins, as MLflow shows it)."""
        points = self.src.get_metric_history(run_id, key)
        check.key(key, "metric name")
        by_step: dict[int, Any] = {}
        for point in points:
            kept = by_step.get(point.step)
            if kept is None or point.timestamp >= kept.timestamp:
                by_step[point.step] = point
        merged = len(points) - len(by_step)
        if merged:
            self.report.points_merged += merged
        history = [
            Metric(key, float(p.value), int(p.timestamp), int(p.step))
            for _, p in sorted(by_step.items())
        ]
        if self.clips_inf:
            history = [_unclipped(m) for m in history]
        return history

    def _artifact_files(self, run_id: str, path: str, where: str) -> list[tuple[str, int | None]]:
        """``(path, size)`` of every artifact file of the run, each path checked."""
        found: list[tuple[str, int | None]] = []
        for info in self.src.list_artifacts(run_id, path or None):
            rel = checked_path(info.path, where)
            if path and not rel.startswith(path + "/"):
                raise InvalidInputError(f"{where}: listing {path!r} returned {rel!r} outside it")
            if info.is_dir:
                found.extend(self._artifact_files(run_id, rel, where))
            else:
                found.append((rel, info.file_size))
        return found

    def _run_models(
        self, run_id: str, taken: set[str], where: str
    ) -> list[tuple[str, str, list[tuple[str, int | None]]]]:
        """``(prefix, model_id, files)`` of each logged model of the run, prefixes checked.

        The prefix is the model's name, or ``<name>-<model_id>`` when a run
        artifact or another of its models already holds that name.
        """
        out: list[tuple[str, str, list[tuple[str, int | None]]]] = []
        used = {p.split("/", 1)[0] for p in taken}
        for model in self.logged_models.get(run_id, []):
            prefix = checked_path(model.name or model.model_id, where)
            if prefix in used:
                prefix = checked_path(f"{prefix}-{model.model_id}", where)
            used.add(prefix)
            listing = [
                (checked_path(f"{prefix}/{rel}", where), size)
                for rel, size in self._model_listing(model.model_id, "", where)
            ]
            out.append((prefix, model.model_id, listing))
        return out

    def _model_listing(self, model_id: str, path: str, where: str) -> list[tuple[str, int | None]]:
        found: list[tuple[str, int | None]] = []
        for info in self.src.list_logged_model_artifacts(model_id, path or None):
            rel = checked_path(info.path, where)
            if info.is_dir:
                found.extend(self._model_listing(model_id, rel, where))
            else:
                found.append((rel, info.file_size))
        return found

    def _copy_model_files(
        self,
        model_id: str,
        target: str,
        prefix: str,
        files: list[tuple[str, int | None]],
        where: str,
    ) -> None:
        """A logged model's files, as bytes, under ``prefix/`` of the run (never loaded)."""
        assert self.dst is not None
        have = {p for p, _sha, _size in self.dst.queries.artifact_files(target, prefix)}
        if not files or all(p in have for p, _ in files):
            return
        model = self.src.get_logged_model(model_id)
        with tempfile.TemporaryDirectory(prefix="nbtrack-import-") as tmp:
            local = Path(
                self.mlflow.artifacts.download_artifacts(
                    artifact_uri=model.artifact_location, dst_path=tmp, tracking_uri=self.source_uri
                )
            )
            if not local.resolve().is_relative_to(Path(tmp).resolve()) or local.is_symlink():
                raise InvalidInputError(
                    f"{where}: MLflow downloaded model {model_id} outside {tmp}"
                )
            for file, rel in regular_files(local, f"{where}, model {model_id}"):
                folder, _, _name = f"{prefix}/{rel}".rpartition("/")
                self.dst.log_artifact(target, file, folder)

    def _copy_artifacts(
        self, run_id: str, target: str, files: list[tuple[str, int | None]], where: str
    ) -> None:
        assert self.dst is not None
        have = {p: size for p, _sha, size in self.dst.queries.artifact_files(target)}
        wanted = [(p, s) for p, s in files if p not in have or (s is not None and have[p] != s)]
        if not wanted:
            return
        with tempfile.TemporaryDirectory(prefix="nbtrack-import-") as tmp:
            for rel, _size in wanted:
                # MLflow writes the file into the directory it is given: a fresh one
                # each, so nothing it downloads can stand in for another file.
                box = Path(tempfile.mkdtemp(dir=tmp))
                local = Path(self.src.download_artifacts(run_id, rel, str(box)))
                if (
                    local.is_symlink()
                    or not local.is_file()
                    or local.resolve().parent != box.resolve()
                ):
                    raise InvalidInputError(f"{where}: artifact {rel!r} did not download as a file")
                folder, _, name = rel.rpartition("/")
                if local.name != name:  # keep the name the source lists, not MLflow's
                    local = local.rename(box / name)
                self.dst.log_artifact(target, local, folder or None)
                shutil.rmtree(box)

    def _link_parents(self) -> None:
        if self.dry_run or self.dst is None:
            return
        for child, parent in self.parents.items():
            target = self.run_ids.get(parent, parent)
            try:
                current = self.dst.get_run(child).info.parent_run_id
                if current != target:
                    self.dst.imports.set_parent(child, target)
            except NotFoundError:
                self._warn(f"run {child}: its parent run {parent} was not imported")
