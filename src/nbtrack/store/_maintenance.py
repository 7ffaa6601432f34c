"""Store upkeep: orphaned runs and garbage collection (a mixin of ``SqlStore``)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nbtrack.entities import LifecycleStage, RunStatus
from nbtrack.store import _dialect, _liveness, schema
from nbtrack.store._liveness import now_ms

if TYPE_CHECKING:
    from nbtrack.store._verify import BlobReport
    from nbtrack.store._writer import BackgroundWriter
    from nbtrack.store.artifacts import Blobs

runs_t = schema.runs


class MaintenanceMixin:
    """Marking dead processes' runs KILLED; purging trashed runs and orphan blobs."""

    writer: BackgroundWriter
    blobs: Blobs
    _runs: dict[str, Any]
    _last_cell_seq: dict[int, int]

    def _read(self) -> Any:  # provided by SqlStore
        raise NotImplementedError

    def artifact_roots(self) -> list[Blobs]:  # provided by ArtifactRootsMixin
        raise NotImplementedError

    def mark_orphaned_runs_killed(self) -> list[str]:
        """Mark KILLED every RUNNING run whose processes are all gone; returns their ids.

        A run's processes are the one that created (or resumed) it and every
        process that wrote to it (``run_writers``): a run that workers still
        log to outlives its launcher.
        """
        writers_t = schema.run_writers
        with self._read() as conn:
            rows = conn.execute(
                sa.select(
                    runs_t.c.run_pk,
                    runs_t.c.run_id,
                    runs_t.c.host,
                    runs_t.c.pid,
                    runs_t.c.heartbeat,
                ).where(runs_t.c.status == RunStatus.RUNNING)
            ).all()
            writers: dict[int, list[Any]] = {}
            if rows:
                for writer in conn.execute(
                    sa.select(
                        writers_t.c.run_pk, writers_t.c.host, writers_t.c.pid, writers_t.c.heartbeat
                    ).where(
                        writers_t.c.run_pk.in_(
                            sa.select(runs_t.c.run_pk).where(runs_t.c.status == RunStatus.RUNNING)
                        )
                    )
                ):
                    writers.setdefault(writer.run_pk, []).append(writer)
        now = now_ms()
        dead = [
            r
            for r in rows
            if not _liveness.owner_alive(r.host, r.pid, r.heartbeat, now)
            and not any(
                _liveness.owner_alive(w.host, w.pid, w.heartbeat, now)
                for w in writers.get(r.run_pk, ())
            )
        ]
        if not dead:
            return []
        dead_pks = [r.run_pk for r in dead]
        latest = schema.latest_metrics
        last_logged = (
            sa.select(sa.func.max(latest.c.timestamp))
            .where(latest.c.run_pk == runs_t.c.run_pk)
            .scalar_subquery()
        )
        last_beat = (
            sa.select(sa.func.max(writers_t.c.heartbeat))
            .where(writers_t.c.run_pk == runs_t.c.run_pk)
            .scalar_subquery()
        )
        stmt = (
            runs_t.update()
            .where(runs_t.c.run_pk.in_(dead_pks))
            .where(runs_t.c.status == RunStatus.RUNNING)
            .values(
                status=RunStatus.KILLED,
                end_time=_dialect.greatest(
                    _dialect.greatest(runs_t.c.heartbeat, last_beat), last_logged
                ),
            )
        )

        def kill(conn: sa.Connection) -> None:
            conn.execute(stmt)
            conn.execute(writers_t.delete().where(writers_t.c.run_pk.in_(dead_pks)))

        self.writer.call(kill)
        return [r.run_id for r in dead]

    def verify_blobs(self) -> BlobReport:
        """Check every artifact blob against its sha256; changes nothing (see ``_verify``)."""
        from nbtrack.store._verify import verify_blobs

        roots = self.artifact_roots()
        with self._read() as conn:
            return verify_blobs(conn, roots)

    def garbage_collect(
        self, grace_seconds: float = 3600.0, dry_run: bool = False
    ) -> dict[str, int]:
        """Remove deleted runs and every blob no run or model version refers to.

        Every root the store uses is swept (a bucket as well as a directory).
        Blobs younger than ``grace_seconds`` are kept: another process may have
        written one whose artifact row is not committed yet. ``dry_run``: count
        what would go (runs in the trash, the blobs only they or nobody use) and
        change nothing.
        """
        if dry_run:
            with self._read() as conn:
                purged = list(
                    conn.execute(
                        sa.select(runs_t.c.run_id).where(
                            runs_t.c.lifecycle_stage == LifecycleStage.DELETED
                        )
                    ).scalars()
                )
        else:
            purged = self.writer.call(_purge_deleted_runs)
            for run_id in purged:  # forget them, so logging to a purged id is an error
                state = self._runs.pop(run_id, None)
                if state is not None:
                    self._last_cell_seq.pop(state.run_pk, None)
        arts, version_files = schema.artifacts, schema.model_version_files
        kept = sa.select(runs_t.c.run_pk).where(runs_t.c.lifecycle_stage != LifecycleStage.DELETED)
        with self._read() as conn:
            referenced = set(
                conn.execute(
                    sa.select(arts.c.sha256).where(arts.c.run_pk.in_(kept)).distinct()
                ).scalars()
            )
            # Registered model versions keep their files after their run is purged.
            referenced.update(conn.execute(sa.select(version_files.c.sha256).distinct()).scalars())
            model_files = schema.logged_model_files  # standalone logged models' files
            referenced.update(conn.execute(sa.select(model_files.c.sha256).distinct()).scalars())
        cutoff = time.time() - grace_seconds
        removed_blobs = freed = 0
        for blobs in self.artifact_roots():
            # One listing gives every blob's age and size (a bucket answers it in pages,
            # not one request per blob); what goes is removed in bulk.
            doomed = [
                (sha, size)
                for sha, written, size in list(blobs.listing())
                if sha not in referenced and written is not None and written <= cutoff
            ]
            if not dry_run:
                blobs.delete_many([sha for sha, _ in doomed])
            freed += sum(size for _, size in doomed)
            removed_blobs += len(doomed)
        return {"runs": len(purged), "blobs": removed_blobs, "bytes": freed}


def join_run_statement(run_pk: int) -> Any:
    """Record this process (host, pid) among the writers of a run, with a fresh heartbeat."""
    writers = schema.run_writers
    return _dialect.upsert(
        writers, ["run_pk", "host", "pid"], {"heartbeat": _dialect.excluded(writers, "heartbeat")}
    ).values(run_pk=run_pk, host=_liveness.HOST, pid=os.getpid(), heartbeat=now_ms())


def leave_runs_statement() -> Any:
    """Forget this process as a writer of every run (it is closing its store)."""
    writers = schema.run_writers
    return writers.delete().where(writers.c.host == _liveness.HOST, writers.c.pid == os.getpid())


def _purge_deleted_runs(conn: sa.Connection) -> list[str]:
    """Delete trashed runs and every row that belongs to them; returns their run ids."""
    purged = (
        conn.execute(
            sa.select(runs_t.c.run_id).where(runs_t.c.lifecycle_stage == LifecycleStage.DELETED)
        )
        .scalars()
        .all()
    )
    if not purged:
        return []
    deleted = (
        sa.select(runs_t.c.run_pk)
        .where(runs_t.c.lifecycle_stage == LifecycleStage.DELETED)
        .scalar_subquery()
    )
    for table in (
        schema.metrics,
        schema.latest_metrics,
        schema.metric_cells,
        schema.params,
        schema.tags,
        schema.artifacts,
        schema.cells,
        schema.run_writers,
    ):
        conn.execute(table.delete().where(table.c.run_pk.in_(deleted)))
    conn.execute(
        runs_t.update().where(runs_t.c.parent_run_pk.in_(deleted)).values(parent_run_pk=None)
    )
    conn.execute(runs_t.delete().where(runs_t.c.lifecycle_stage == LifecycleStage.DELETED))
    sources, cells = schema.cell_sources, schema.cells
    conn.execute(sources.delete().where(sources.c.sha256.not_in(sa.select(cells.c.source_sha256))))
    return list(purged)
