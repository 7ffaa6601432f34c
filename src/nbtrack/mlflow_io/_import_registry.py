"""The registry half of ``import-mlflow``: registered models, versions, aliases, stages, tags.

A mixin of the importer (:mod:`nbtrack.mlflow_io._import`). Version numbers
are kept; a version's files are downloaded by MLflow and stored as blobs,
never loaded: a pickled model stays bytes.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrack import _validation as check
from nbtrack.client import current_user
from nbtrack.exceptions import InvalidInputError, NbtrackWarning
from nbtrack.mlflow_io._common import (
    SOURCE_TAG,
    VERSION_TAG,
    mlflow_versions,
    regular_files,
    valid_run_id,
)

if TYPE_CHECKING:
    from nbtrack.mlflow_io._import_report import ImportReport
    from nbtrack.registry import TrackingClient

log = logging.getLogger(__name__)


class RegistryImport:
    """Copies the source registry; the importer provides the clients and the report."""

    src: Any
    dst: TrackingClient | None
    mlflow: Any
    source_uri: str
    names: list[str] | None
    dry_run: bool
    report: ImportReport
    run_ids: dict[str, str]

    def _warn(self, message: str) -> None:
        self.report.warnings.append(message)
        warnings.warn(message, NbtrackWarning, stacklevel=3)

    def _import_registry(self) -> None:
        token = None
        while True:
            page = self.src.search_registered_models(max_results=100, page_token=token)
            for model in page:
                self._import_model(model)
            token = page.token
            if not token:
                return

    def _versions(self, name: str) -> list[Any]:
        return mlflow_versions(self.src, name)

    def _import_model(self, model: Any) -> None:
        from nbtrack.entities import Stage
        from nbtrack.registry._names import alias_name, model_name
        from nbtrack.store.registry import Actor, ImportedModel, ImportedVersion

        name = model_name(model.name)
        versions = self._versions(model.name)
        if self.names is not None:  # only versions of the runs imported
            versions = [v for v in versions if v.run_id and v.run_id in self.run_ids]
            if not versions:
                return
        tags = {check.key(k, "model tag"): check.tag_value(k, v) for k, v in model.tags.items()}
        actor = Actor(current_user())
        exists = False
        if self.dst is not None:
            exists = bool(
                self.dst.search_registered_models(f"name = '{name.replace(chr(39), chr(39) * 2)}'")
            )
        if not exists:
            self.report.models_created += 1
        new: list[ImportedVersion] = []
        for mv in versions:
            number = int(mv.tags.get(VERSION_TAG) or mv.version)
            if exists and self._has_version(name, number):
                self.report.versions_unchanged += 1
                continue
            self.report.versions_imported += 1
            if self.dry_run:
                continue
            run_id = self.run_ids.get(mv.run_id, mv.run_id) if mv.run_id else None
            new.append(
                ImportedVersion(
                    version=number,
                    creation_time=mv.creation_timestamp or 0,
                    last_updated_time=mv.last_updated_timestamp or mv.creation_timestamp or 0,
                    description=mv.description or None,
                    user_id=mv.user_id or "",
                    current_stage=Stage.parse(mv.current_stage or "None").value,
                    source=str(mv.tags.get(SOURCE_TAG) or mv.source or ""),
                    run_id=valid_run_id(run_id, f"model {name!r} version {mv.version}")
                    if run_id
                    else None,
                    status=str(mv.status or "READY"),
                    files=(files := self._version_files(name, mv)),
                    flavor=self._nbtrack_flavor(files),
                    tags={
                        check.key(k, "model version tag"): check.tag_value(k, v)
                        for k, v in mv.tags.items()
                        if k not in (VERSION_TAG, SOURCE_TAG)
                    },
                )
            )
        if self.dry_run:
            return
        numbers = {int(v.version): int(v.tags.get(VERSION_TAG) or v.version) for v in versions}
        aliases = [
            (alias_name(alias), numbers.get(int(version), int(version)))
            for alias, version in (model.aliases or {}).items()
        ]
        assert self.dst is not None

        imported = ImportedModel(
            name=name,
            creation_time=model.creation_timestamp or 0,
            last_updated_time=model.last_updated_timestamp or model.creation_timestamp or 0,
            description=model.description or None,
            tags=tags,
            versions=new,
            aliases=aliases,
        )
        self.dst.imports.import_model(imported, actor)

    def _has_version(self, name: str, version: int) -> bool:
        assert self.dst is not None
        return self.dst.imports.has_version(name, version)

    def _nbtrack_flavor(self, files: list[tuple[str, str, int]]) -> str | None:
        """The nbtrack flavor an exported nbtrack model records in its MLmodel (read as text)."""
        from nbtrack.models import _yaml
        from nbtrack.models._errors import ModelFormatError
        from nbtrack.models._format import FLAVOR_KEY, MLMODEL

        assert self.dst is not None
        sha = next((s for p, s, _ in files if p == MLMODEL), None)
        if sha is None:
            return None
        try:
            document = _yaml.load(
                self.dst.blobs_holding(sha).read_bytes(sha).decode(), source=MLMODEL
            )
        except (ModelFormatError, UnicodeDecodeError) as error:  # MLflow's own YAML: no flavor
            log.debug("MLmodel is not nbtrack's format: %s", error)
            return None
        own = document.get("flavors", {}).get(FLAVOR_KEY)
        flavor = own.get("flavor") if isinstance(own, dict) else None
        return str(flavor) if isinstance(flavor, str) else None

    def _version_files(self, name: str, mv: Any) -> list[tuple[str, str, int]]:
        """The version's files, downloaded by MLflow and stored as blobs (never loaded)."""
        assert self.dst is not None
        where = f"model {name!r} version {mv.version}"
        uri = self.src.get_model_version_download_uri(mv.name, mv.version)
        rows: list[tuple[str, str, int]] = []
        with tempfile.TemporaryDirectory(prefix="nbtrack-import-") as tmp:
            local = self.mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=tmp, tracking_uri=self.source_uri
            )
            root = Path(local)
            if not root.resolve().is_relative_to(Path(tmp).resolve()) or root.is_symlink():
                raise InvalidInputError(f"{where}: MLflow downloaded it outside {tmp}")
            for file, rel in regular_files(root, where):
                sha, size = self.dst.blobs.put_file(file)
                rows.append((rel, sha, size))
        if not rows:
            self._warn(f"{where}: MLflow has no files for it at {uri}")
        return rows
