"""Runs and stores named on the command line: shared by every ``nbtrack`` command group.

Its own module so that the command groups (``_cli_*``) and :mod:`nbtrack.cli`,
which registers them, import it without importing each other in a circle.
"""

from __future__ import annotations

import click

from nbtrack.client import TrackingClient, ViewType
from nbtrack.entities import Run
from nbtrack.exceptions import InvalidInputError, NotFoundError


def resolve_run(client: TrackingClient, prefix: str) -> Run:
    """The one run whose id starts with ``prefix`` (a usage error for none or several)."""
    text = prefix.strip().lower()
    if not text or any(c not in "0123456789abcdef" for c in text):
        raise click.BadParameter(f"{prefix!r} is not a run id (32 hex digits, or a prefix)")
    matches = client.search_runs(
        None, f"attributes.run_id LIKE '{text}%'", ViewType.ALL, max_results=2
    )
    if not matches:
        raise NotFoundError(f"no run id starts with {prefix!r}")
    if len(matches) > 1:
        # Exit 1 as for no match: the argument is well-formed but names no single run.
        raise InvalidInputError(f"{prefix!r} matches several runs; give more characters")
    return matches[0]


def existing_store_client(tracking_uri: str | None) -> TrackingClient:
    """A writing client for commands that need a store with runs in it already
    (``gc``, ``reproduce``, ``sweep --resume``): a missing SQLite store is a
    :class:`NotFoundError` naming where it was looked for, and nothing is created."""
    from nbtrack.store._probe import existing_store

    client = TrackingClient(tracking_uri)
    if client.tracking_uri.startswith("sqlite:///"):
        existing_store(client.tracking_uri)
    return client
