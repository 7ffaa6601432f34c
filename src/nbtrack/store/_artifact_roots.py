"""Which blob root holds a run's artifacts (a mixin of ``SqlStore``).

The store's root (``NBTRACK_ARTIFACT_ROOT``, else ``artifacts/`` beside a
SQLite file) holds every blob, except those of an experiment created with an
``artifact_location``: that root is recorded in the experiment's
``nbtrack.artifact_root`` tag and its runs' blobs go there. Experiments made
before, imported, or created without a location keep using the store's root,
so a moved store keeps finding its blobs.

A blob is named by its content, so it is the right one wherever it is found:
reads of a model version's files (which may come from any run) look in every
root the store uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nbtrack.store import schema
from nbtrack.store._blob_roots import ROOT_TAG, open_blobs

if TYPE_CHECKING:
    from nbtrack.store.artifacts import Blobs

__all__ = ["ROOT_TAG", "ArtifactRootsMixin"]


class ArtifactRootsMixin:
    """Blob roots by experiment and by run; every root in use (for gc and verify)."""

    blobs: Blobs
    _experiment_blobs: dict[int, Blobs]

    def _read(self) -> Any:  # provided by SqlStore
        raise NotImplementedError

    def blobs_for_experiment(self, experiment_id: str | int) -> Blobs:
        """The blob root of an experiment's runs (remembered for this process)."""
        number = int(experiment_id)
        found = self._experiment_blobs.get(number)
        if found is None:
            tags = schema.experiment_tags
            with self._read() as conn:
                root = conn.execute(
                    sa.select(tags.c.value).where(
                        tags.c.experiment_id == number, tags.c.key == ROOT_TAG
                    )
                ).scalar()
            found = self.blobs if root is None else self._root(str(root))
            self._experiment_blobs[number] = found
        return found

    def blobs_for_run(self, run_id: str) -> Blobs:
        """The blob root of a run's artifacts (its experiment's)."""
        from nbtrack.exceptions import NotFoundError

        runs = schema.runs
        with self._read() as conn:
            experiment_id = conn.execute(
                sa.select(runs.c.experiment_id).where(runs.c.run_id == run_id)
            ).scalar()
        if experiment_id is None:
            raise NotFoundError(f"no run with id {run_id!r}")
        return self.blobs_for_experiment(experiment_id)

    def artifact_roots(self) -> list[Blobs]:
        """Every root the store's blobs may live in: the store's first."""
        tags = schema.experiment_tags
        with self._read() as conn:
            recorded = conn.execute(
                sa.select(tags.c.value).where(tags.c.key == ROOT_TAG).distinct()
            ).scalars()
            roots = [str(root) for root in recorded]
        found = {self.blobs.url: self.blobs}
        for root in sorted(roots):
            blobs = self._root(root)
            found.setdefault(blobs.url, blobs)
        return list(found.values())

    def blobs_holding(self, sha256: str, prefer: Blobs | None = None) -> Blobs:
        """The root that holds blob ``sha256``: ``prefer`` (default: the store's) first.

        With a single root nothing is asked of it; when no root has the blob,
        ``prefer`` is returned so that reading it reports it missing there.
        """
        first = prefer or self.blobs
        roots = self.artifact_roots()
        if len(roots) == 1 and roots[0].url == first.url:
            return first
        if first.exists(sha256):
            return first
        for blobs in roots:
            if blobs.url != first.url and blobs.exists(sha256):
                return blobs
        return first

    def _root(self, root: str) -> Blobs:
        blobs = open_blobs(root)
        return self.blobs if blobs.url == self.blobs.url else blobs
