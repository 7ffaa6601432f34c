"""Checking every artifact blob against its sha256 (``nbtrack gc --verify``).

Reads every referenced blob and every blob file in the store once, so its cost
is the store's size on disk; nothing is changed or deleted: a damaged blob is
repaired by logging its file again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from nbtrack.store import schema
from nbtrack.store.artifacts import is_sha256

if TYPE_CHECKING:
    from collections.abc import Sequence

    from nbtrack.store.artifacts import Blobs


@dataclass(frozen=True)
class BlobProblem:
    """One damaged blob or row: ``kind`` is 'damaged', 'missing' or 'invalid sha256'.

    ``where`` is the blob file (or the invalid value); ``used_by`` names the run
    artifacts and model version files that point at it.
    """

    kind: str
    where: str
    used_by: tuple[str, ...]


@dataclass(frozen=True)
class BlobReport:
    """What :func:`verify_blobs` found."""

    checked: int
    problems: list[BlobProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every blob is intact and every row names a valid sha256."""
        return not self.problems


def verify_blobs(conn: sa.Connection, roots: Sequence[Blobs]) -> BlobReport:
    """Check every blob the store refers to, and every blob file in each of its ``roots``.

    A referenced blob is missing when no root holds it; a damaged copy in any
    root is reported (with where it is) even if another root holds a good one.
    """
    users: dict[object, list[str]] = {}
    arts, runs = schema.artifacts, schema.runs
    for run_id, path, sha in conn.execute(
        sa.select(runs.c.run_id, arts.c.path, arts.c.sha256)
        .join(runs, runs.c.run_pk == arts.c.run_pk)
        .order_by(runs.c.run_id, arts.c.path)
    ):
        users.setdefault(sha, []).append(f"run {run_id} artifact {path!r}")
    files, models = schema.model_version_files, schema.registered_models
    for name, version, path, sha in conn.execute(
        sa.select(models.c.name, files.c.version, files.c.path, files.c.sha256)
        .join(models, models.c.model_pk == files.c.model_pk)
        .order_by(models.c.name, files.c.version, files.c.path)
    ):
        users.setdefault(sha, []).append(f"model {name!r} version {version} file {path!r}")
    logged = schema.logged_model_files
    for model_id, path, sha in conn.execute(
        sa.select(logged.c.model_id, logged.c.path, logged.c.sha256).order_by(
            logged.c.model_id, logged.c.path
        )
    ):
        users.setdefault(sha, []).append(f"logged model {model_id} file {path!r}")
    problems = []
    stored = [set(blobs.all_blobs()) for blobs in roots]
    checked: set[str] = set()
    for sha in sorted({*users, *set().union(*stored)}, key=str):
        used_by = tuple(users.get(sha, ()))
        if not is_sha256(sha):
            problems.append(BlobProblem("invalid sha256", repr(sha), used_by))
            continue
        assert isinstance(sha, str)
        checked.add(sha)
        holders = [blobs for blobs, names in zip(roots, stored, strict=True) if sha in names]
        if not holders:
            problems.append(BlobProblem("missing", roots[0].location(sha), used_by))
        for blobs in holders:
            found = blobs.check(sha)
            if found is not None:
                problems.append(BlobProblem(found, blobs.location(sha), used_by))
    return BlobReport(len(checked), problems)
