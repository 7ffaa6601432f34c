"""The ``nbtrack`` command line: a thin layer over the client.

Every command's ``--help`` ends with an example. The store is the default one
(see :mod:`nbtrack.store.locate`), ``NBTRACK_TRACKING_URI``, or ``--tracking-uri``.
Commands that only read open the store read-only: they never create, upgrade
or change it, and a store that does not exist is an error naming where they
looked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import click

from nbtrack import _demo
from nbtrack._cli_runs import existing_store_client, resolve_run
from nbtrack._table import format_table
from nbtrack.client import TrackingClient, ViewType
from nbtrack.entities import Run
from nbtrack.exceptions import NbtrackError, NotFoundError, StoreError
from nbtrack.store import locate


def _client(ctx: click.Context) -> TrackingClient:
    return TrackingClient(ctx.obj.get("tracking_uri"))


def _reader(ctx: click.Context) -> TrackingClient:
    """A client for commands that only read: the store is opened read-only."""
    return TrackingClient(ctx.obj.get("tracking_uri"), readonly=True)


class _Group(click.Group):
    """Turns nbtrack's own errors into a one-line message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NbtrackError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Group)
@click.option(
    "--tracking-uri",
    envvar="NBTRACK_TRACKING_URI",
    help="Store to use: sqlite:///path/to/nbtrack.db or a directory. "
    "Default: the nearest .nbtrack/ upward from the current directory.",
)
@click.version_option(package_name="nbtrack")
@click.pass_context
def main(ctx: click.Context, tracking_uri: str | None) -> None:
    """Notebook-first experiment tracking.

    \b
    Example:
      nbtrack demo && nbtrack runs list --filter "metrics.val_loss < 0.5"
    """
    ctx.ensure_object(dict)
    ctx.obj["tracking_uri"] = tracking_uri


@main.command()
@click.option("--experiment", default="demo", show_default=True, help="Experiment to log into.")
@click.option("--runs", "n_runs", default=3, show_default=True, help="How many runs to log.")
@click.pass_context
def demo(ctx: click.Context, experiment: str, n_runs: int) -> None:
    """Train a small model with a few learning rates, tracked, then print the run table.

    \b
    Example:
      nbtrack demo --runs 5
    """
    client = _client(ctx)
    run_ids = _demo.run_demo(client, experiment, n_runs)
    click.echo(
        f"Logged {len(run_ids)} runs to experiment {experiment!r} in {client.tracking_uri}\n"
    )
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], order_by=["metrics.val_loss ASC"])
    click.echo(format_table(*_run_rows(runs, max_columns=6)))
    click.echo("\nNext: nbtrack runs show " + runs[0].info.run_id[:8])


@main.group()
def runs() -> None:
    """List and inspect runs.

    \b
    Example:
      nbtrack runs list --experiment demo
    """


@runs.command("list")
@click.option(
    "--experiment", "-e", multiple=True, help="Experiment name (repeatable). Default: all."
)
@click.option(
    "--filter",
    "filter_string",
    default="",
    help="MLflow search syntax plus OR and parentheses, "
    "e.g. \"metrics.acc > 0.9 and params.lr = '0.01'\"",
)
@click.option("--order-by", multiple=True, help="E.g. 'metrics.acc DESC' (repeatable).")
@click.option(
    "--max-results",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Rows to show (at least 1).",
)
@click.option("--deleted", is_flag=True, help="Show deleted runs instead of active ones.")
@click.pass_context
def runs_list(
    ctx: click.Context,
    experiment: Sequence[str],
    filter_string: str,
    order_by: Sequence[str],
    max_results: int,
    deleted: bool,
) -> None:
    """Print a table of runs, newest first.

    \b
    Example:
      nbtrack runs list -e demo --filter "params.lr = '0.1' or metrics.val_loss < 0.3"
    """
    client = _reader(ctx)
    ids = _experiment_ids(client, experiment)
    found = client.search_runs(
        ids,
        filter_string,
        ViewType.DELETED_ONLY if deleted else ViewType.ACTIVE_ONLY,
        max_results,
        list(order_by) or None,
    )
    where = locate.store_location(client.tracking_uri)
    if not found:
        click.echo(f"No runs match. (store: {where})")
        return
    click.echo(format_table(*_run_rows(found)))
    click.echo(f"\n{len(found)} run(s) from the store at {where}")


@runs.command("show")
@click.argument("run")
@click.pass_context
def runs_show(ctx: click.Context, run: str) -> None:
    """Show one run: status, params, metrics (last/min/max), tags, artifacts.

    RUN is a run id or a unique prefix of one.

    \b
    Example:
      nbtrack runs show 3f2a9c
    """
    client = _reader(ctx)
    found = resolve_run(client, run)
    info = found.info
    click.echo(f"Run {info.run_name!r}  {info.run_id}")
    click.echo(
        f"  experiment  {client.get_experiment(info.experiment_id).name} ({info.experiment_id})"
    )
    click.echo(f"  status      {info.status}")
    click.echo(f"  started     {_time(info.start_time)}")
    click.echo(f"  duration    {_duration(info.start_time, info.end_time)}")
    if info.parent_run_id:
        click.echo(f"  parent      {info.parent_run_id}")
    click.echo(f"  store       {locate.store_location(client.tracking_uri)}")
    _section("Params", sorted(found.data.params.items()))
    metric_rows = []
    for key in sorted(found.data.metrics):
        history = client.get_metric_history(info.run_id, key)
        values = [m.value for m in history if m.value == m.value]
        metric_rows.append(
            (
                key,
                _num(found.data.metrics[key]),
                _num(min(values)) if values else "nan",
                _num(max(values)) if values else "nan",
                str(len(history)),
            )
        )
    if metric_rows:
        click.echo("\nMetrics")
        click.echo(format_table(["key", "last", "min", "max", "steps"], metric_rows, indent=2))
    _section("Tags", sorted(found.data.tags.items()))
    artifacts = _all_artifacts(client, info.run_id)
    if artifacts:
        click.echo("\nArtifacts")
        click.echo(format_table(["path", "bytes"], artifacts, indent=2))


@main.group()
def experiments() -> None:
    """List experiments.

    \b
    Example:
      nbtrack experiments list
    """


@experiments.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include deleted experiments.")
@click.pass_context
def experiments_list(ctx: click.Context, show_all: bool) -> None:
    """Print every experiment with its number of runs.

    \b
    Example:
      nbtrack experiments list --all
    """
    client = _reader(ctx)
    found = client.search_experiments(ViewType.ALL if show_all else ViewType.ACTIVE_ONLY)
    rows = []
    for exp in found:
        count = len(client.search_runs([exp.experiment_id], max_results=None))
        rows.append(
            (exp.experiment_id, exp.name, exp.lifecycle_stage, str(count), _time(exp.creation_time))
        )
    click.echo(format_table(["id", "name", "stage", "runs", "created"], rows))
    click.echo(f"\nStore: {locate.store_location(client.tracking_uri)}")


@main.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Bring the store's schema up to this nbtrack's version (reading never does it).

    Data is kept; other processes may keep the store open meanwhile. A store
    that does not exist is not created.

    \b
    Example:
      nbtrack --tracking-uri /data/team/.nbtrack upgrade
    """
    from nbtrack.store import why_not_writable
    from nbtrack.store._probe import existing_store
    from nbtrack.store.migrations import HEAD_REVISION

    uri = TrackingClient(ctx.obj.get("tracking_uri")).tracking_uri
    before = existing_store(uri).revision  # NotFoundError, nothing created, if there is none
    where = locate.store_location(uri)
    if before == HEAD_REVISION:
        click.echo(f"The store at {where} is up to date (schema {HEAD_REVISION}).")
        return
    why = why_not_writable(uri)
    if why:
        raise StoreError(f"cannot upgrade the store at {where}: {why}; ask its owner to run it")
    TrackingClient(uri).require_writable()  # opening it for writing upgrades it
    click.echo(f"Upgraded the store at {where} from schema {before} to {HEAD_REVISION}.")


@main.command()
@click.option(
    "--grace",
    default=3600.0,
    show_default=True,
    help="Keep unreferenced blobs younger than this many seconds (another process may be writing).",
)
@click.option(
    "--verify",
    is_flag=True,
    help="First check every artifact blob against its sha256 (reads them all); list damaged, "
    "missing and invalid ones and exit 1 if there are any. Nothing damaged is deleted.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Only count the trashed runs and unreferenced blobs that would be removed.",
)
@click.pass_context
def gc(ctx: click.Context, grace: float, verify: bool, dry_run: bool) -> None:
    """Delete trashed runs for good and remove artifact blobs no run refers to.

    Every artifact root the store uses is swept, a bucket (s3://...) as well
    as a directory.

    \b
    Example:
      nbtrack gc --grace 0
      nbtrack gc --verify
      nbtrack gc --dry-run
    """
    client = existing_store_client(ctx.obj.get("tracking_uri"))
    problems = 0
    if verify:
        report = client.verify_artifacts()
        problems = len(report.problems)
        for problem in report.problems:
            click.echo(f"{problem.kind}: {problem.where}")
            for user in problem.used_by or ("(no run or model version uses it)",):
                click.echo(f"  used by {user}")
        if problems:
            click.echo(
                f"{report.checked} blob(s) checked, {problems} problem(s). Log each damaged "
                "or missing file again to repair it (the same content restores the blob), or "
                "delete the runs that use it."
            )
        else:
            click.echo(f"{report.checked} blob(s) checked, all intact.")
    stats = client.garbage_collect(grace, dry_run=dry_run)
    click.echo(
        f"{'Would remove' if dry_run else 'Removed'} {stats['runs']} deleted run(s) and "
        f"{stats['blobs']} unreferenced blob(s), freeing "
        f"{stats['bytes']} bytes."
    )
    if problems:
        ctx.exit(1)


# -- helpers ---------------------------------------------------------------------------


def _experiment_ids(client: TrackingClient, names: Sequence[str]) -> list[str] | None:
    if not names:
        return None
    ids = []
    for name in names:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            known = ", ".join(e.name for e in client.search_experiments()) or "none"
            raise NotFoundError(f"no experiment named {name!r} (known: {known})")
        ids.append(exp.experiment_id)
    return ids


def _run_rows(
    found: Sequence[Run], max_columns: int = 8
) -> tuple[list[str], list[tuple[str, ...]]]:
    param_keys = sorted({k for r in found for k in r.data.params})[:max_columns]
    metric_keys = sorted({k for r in found for k in r.data.metrics})[:max_columns]
    header = ["run_id", "name", "status", "started", "duration"]
    header += [f"params.{k}" for k in param_keys] + [f"metrics.{k}" for k in metric_keys]
    rows = []
    for run in found:
        info = run.info
        rows.append(
            (
                info.run_id[:8],
                info.run_name,
                info.status,
                _time(info.start_time),
                _duration(info.start_time, info.end_time),
                *(run.data.params.get(k, "") for k in param_keys),
                *(_num(run.data.metrics[k]) if k in run.data.metrics else "" for k in metric_keys),
            )
        )
    return header, rows


def _all_artifacts(client: TrackingClient, run_id: str) -> list[tuple[str, str]]:
    return [(path, str(size)) for path, _sha, size in client.queries.artifact_files(run_id)]


def _section(title: str, items: list[tuple[str, str]]) -> None:
    if items:
        click.echo(f"\n{title}")
        click.echo(format_table(["key", "value"], items, indent=2))


def _time(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: int, end: int | None) -> str:
    if end is None:
        return "running"
    seconds = max(0.0, (end - start) / 1000)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _num(value: float) -> str:
    return f"{value:.6g}"


from nbtrack._cli_projects import register  # noqa: E402 (the commands need `main` defined)

register(main)

from nbtrack._cli_models import models  # noqa: E402 (registered after `main` exists)

main.add_command(models)

from nbtrack._cli_artifacts import artifacts  # noqa: E402 (registered after `main` exists)

main.add_command(artifacts)

from nbtrack._cli_mlflow import register as register_mlflow  # noqa: E402 (after `main`)

register_mlflow(main)
