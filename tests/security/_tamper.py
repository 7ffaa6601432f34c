"""Edits a store the way an attacker or a careless hand would: blob files and raw rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nbtrack
from nbtrack.store import get_store


def blob_file(client: nbtrack.TrackingClient, run_id: str, path: str) -> Path:
    """The blob file that holds artifact ``path`` of the run."""
    client.flush()
    store = get_store(client.tracking_uri)
    [(_, sha, _)] = [row for row in store.artifact_rows(run_id, path) if row[0] == path]
    return store.blobs.path_of(sha)


def database(client: nbtrack.TrackingClient) -> Path:
    """The SQLite file of the client's store."""
    return Path(get_store(client.tracking_uri).engine.url.database or "")


def set_sha256(client: nbtrack.TrackingClient, run_id: str, path: str, value: object) -> None:
    """Overwrite the ``sha256`` column of one artifact row with anything, behind nbtrack's back."""
    client.flush()
    with sqlite3.connect(database(client)) as conn:
        changed = conn.execute(
            "UPDATE artifacts SET sha256 = ? WHERE path = ? AND run_pk = "
            "(SELECT run_pk FROM runs WHERE run_id = ?)",
            (value, path, run_id),
        ).rowcount
    assert changed == 1
