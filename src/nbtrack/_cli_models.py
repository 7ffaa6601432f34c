"""``nbtrack models ...``: the registry and the scoring server from the command line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import click

from nbtrack._table import format_table
from nbtrack.exceptions import InvalidInputError
from nbtrack.registry import ModelVersion, TrackingClient


def _client(ctx: click.Context, readonly: bool = False) -> TrackingClient:
    """The registry's client; ``readonly`` for commands that only read (nothing created)."""
    obj = ctx.find_root().obj or {}
    return TrackingClient(obj.get("tracking_uri"), readonly=readonly)


def _time(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


@click.group()
def models() -> None:
    """Registered models: list, inspect, promote, audit and serve them.

    \b
    Example:
      nbtrack models list && nbtrack models serve models:/iris@champion --port 5001
    """


@models.command("list")
@click.option("--filter", "filter_string", default="", help="E.g. \"name LIKE 'iris%'\".")
@click.option(
    "--max-results",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Rows to show (at least 1).",
)
@click.pass_context
def models_list(ctx: click.Context, filter_string: str, max_results: int) -> None:
    """Print every registered model with its latest version, stages and aliases.

    \b
    Example:
      nbtrack models list --filter "tags.team = 'vision'"
    """
    found = _client(ctx, readonly=True).search_registered_models(filter_string or None, max_results)
    if not found:
        click.echo("No registered models. Register one with nbtrack.register_model(uri, name).")
        return
    rows = []
    for model in found:
        latest = max((int(v.version) for v in model.latest_versions), default=0)
        stages = ", ".join(
            f"{v.current_stage}: v{v.version}"
            for v in model.latest_versions
            if v.current_stage != "None"
        )
        aliases = ", ".join(f"{a}: v{v}" for a, v in model.aliases.items())
        rows.append((model.name, str(latest), stages, aliases, _time(model.last_updated_timestamp)))
    click.echo(format_table(["name", "latest", "stages", "aliases", "updated"], rows))


@models.command("show")
@click.argument("name")
@click.option("--version", "version", default=None, help="Show this version in detail.")
@click.pass_context
def models_show(ctx: click.Context, name: str, version: str | None) -> None:
    """Show a registered model and its versions (or one version with its files).

    \b
    Example:
      nbtrack models show iris --version 3
    """
    client = _client(ctx, readonly=True)
    if version is not None:
        _show_version(client.get_model_version(name, version))
        return
    model = client.get_registered_model(name)
    click.echo(f"Model {model.name!r}")
    if model.description:
        click.echo(f"  description  {model.description}")
    click.echo(f"  created      {_time(model.creation_timestamp)}")
    for key, value in sorted(model.tags.items()):
        click.echo(f"  tag          {key} = {value}")
    versions = client.search_model_versions(
        f"name = '{name.replace(chr(39), chr(39) * 2)}'", max_results=None
    )
    click.echo("\nVersions")
    click.echo(format_table(*_version_rows(versions), indent=2))


def _version_rows(
    versions: Sequence[ModelVersion],
) -> tuple[list[str], list[tuple[str, ...]]]:
    header = ["version", "stage", "aliases", "flavor", "run_id", "created", "description"]
    rows: list[tuple[str, ...]] = [
        (
            str(v.version),
            v.current_stage,
            ", ".join(v.aliases),
            v.flavor or "",
            (v.run_id or "")[:8],
            _time(v.creation_timestamp),
            v.description or "",
        )
        for v in sorted(versions, key=lambda v: v.version, reverse=True)
    ]
    return header, rows


def _show_version(version: ModelVersion) -> None:
    click.echo(f"Model {version.name!r} version {version.version}")
    click.echo(f"  stage        {version.current_stage}")
    click.echo(f"  aliases      {', '.join(version.aliases) or '-'}")
    click.echo(f"  flavor       {version.flavor or '-'}")
    click.echo(f"  source       {version.source}")
    click.echo(f"  run          {version.run_id or '-'}")
    click.echo(f"  created      {_time(version.creation_timestamp)} by {version.user_id}")
    click.echo(f"  uri          {version.model_uri}")
    if version.description:
        click.echo(f"  description  {version.description}")
    for key, value in sorted(version.tags.items()):
        click.echo(f"  tag          {key} = {value}")
    click.echo("\nFiles")
    rows = [(path, sha[:16]) for path, sha in sorted(version.files.items())]
    click.echo(format_table(["path", "sha256"], rows, indent=2))


@models.command("history")
@click.argument("name")
@click.option("--limit", default=None, type=int, help="Only the last N changes.")
@click.pass_context
def models_history(ctx: click.Context, name: str, limit: int | None) -> None:
    """Print the audit trail of a model: every change, from what to what, when, by whom.

    \b
    Example:
      nbtrack models history iris --limit 20
    """
    events = _client(ctx, readonly=True).get_registry_history(name, limit)
    if not events:
        click.echo(f"No registry changes recorded for {name!r}.")
        return
    rows = [
        (
            _time(e.timestamp),
            e.action,
            e.version or "",
            e.key or "",
            "" if e.from_value is None else e.from_value,
            "" if e.to_value is None else e.to_value,
            f"{e.user_id}@{e.host}",
            (e.run_id or "")[:8],
        )
        for e in events
    ]
    header = ["when", "action", "version", "key", "from", "to", "who", "run"]
    click.echo(format_table(header, rows))


@models.command("promote")
@click.argument("name")
@click.argument("version")
@click.option(
    "--stage",
    type=click.Choice(["None", "Staging", "Production", "Archived"], case_sensitive=False),
    help="Move the version to this stage.",
)
@click.option("--alias", "aliases", multiple=True, help="Point this alias at the version.")
@click.option(
    "--archive-existing",
    is_flag=True,
    help="Archive the other versions in the target stage.",
)
@click.pass_context
def models_promote(
    ctx: click.Context,
    name: str,
    version: str,
    stage: str | None,
    aliases: Sequence[str],
    archive_existing: bool,
) -> None:
    """Move a version to a stage and/or point aliases at it (each change is audited).

    \b
    Example:
      nbtrack models promote iris 3 --stage Production --alias champion --archive-existing
    """
    if stage is None and not aliases:
        raise InvalidInputError("nothing to do: give --stage STAGE and/or --alias ALIAS")
    client = _client(ctx)
    if stage is not None:
        result = client.transition_model_version_stage(name, version, stage, archive_existing)
        click.echo(f"{name} v{result.version} is now in stage {result.current_stage}")
    for alias in aliases:
        client.set_registered_model_alias(name, alias, version)
        click.echo(f"{name}@{alias} -> v{version}")


@models.command("serve")
@click.argument("model_uri")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5001, show_default=True, help="Port to listen on.")
@click.option(
    "--max-body-bytes",
    default=32 * 1024 * 1024,
    show_default=True,
    help="Larger request bodies get 413.",
)
@click.option("--allow-pickle", is_flag=True, help="Load a model saved with pickle (trusted).")
@click.option("--trust", "trusted", multiple=True, help="A skops type to trust (repeatable).")
@click.option("--trust-code", is_flag=True, help="Import the classes the model names (trusted).")
@click.pass_context
def models_serve(
    ctx: click.Context,
    model_uri: str,
    host: str,
    port: int,
    max_body_bytes: int,
    allow_pickle: bool,
    trusted: Sequence[str],
    trust_code: bool,
) -> None:
    """Serve a model over HTTP: POST /invocations (MLflow's JSON or CSV), GET /ping, /version.

    MODEL_URI is models:/NAME/VERSION, models:/NAME@ALIAS, models:/NAME/STAGE,
    runs:/RUN_ID/path or a model directory.

    \b
    Example:
      nbtrack models serve models:/iris@champion --port 5001
      curl -d '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}' -H 'Content-Type: application/json' \\
           http://127.0.0.1:5001/invocations
    """
    from nbtrack._optional import require
    from nbtrack.models import load_model
    from nbtrack.models.serving import build_app

    uvicorn: Any = require("uvicorn", extra="models", purpose="nbtrack models serve")
    model = load_model(
        model_uri,
        allow_pickle=allow_pickle,
        trusted_types=trusted,
        trust_code=trust_code,
        client=_client(ctx),
    )
    app = build_app(model, max_body_bytes=max_body_bytes)

    click.echo(f"Serving {model_uri} ({model.metadata.flavor}) on http://{host}:{port}", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
