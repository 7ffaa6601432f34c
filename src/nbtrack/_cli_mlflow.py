"""``nbtrack import-mlflow`` and ``nbtrack export-mlflow``: moving runs between MLflow and nbtrack.

Registered on the main group at the bottom of :mod:`nbtrack.cli`; MLflow is
imported only when a command runs.
"""

from __future__ import annotations

import click


def _tracking_uri(ctx: click.Context) -> str | None:
    obj = ctx.find_root().obj or {}
    uri = obj.get("tracking_uri")
    return str(uri) if uri else None


@click.command("import-mlflow")
@click.argument("source")
@click.option(
    "--experiment", "-e", "experiments", multiple=True, metavar="NAME",
    help="Import only this experiment (repeatable), with the model versions of its runs.",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Count what would be copied; write nothing.")
@click.pass_context
def import_mlflow(
    ctx: click.Context, source: str, experiments: tuple[str, ...], dry_run: bool
) -> None:
    """Copy an MLflow store's experiments, runs, artifacts and registry into nbtrack.

    SOURCE is an MLflow tracking URI (sqlite:///mlflow.db, postgresql://...) or
    a ./mlruns directory. Run ids are kept; importing again copies only what is
    new or changed. Model files are copied as bytes, never loaded.

    Example: nbtrack import-mlflow sqlite:///mlflow.db -e vision --dry-run
    """
    from nbtrack.mlflow_io import import_mlflow as run_import

    report = run_import(
        source, tracking_uri=_tracking_uri(ctx), experiments=experiments or None, dry_run=dry_run
    )
    click.echo(report.summary())


@click.command("export-mlflow")
@click.argument("dest")
@click.option(
    "--experiment", "-e", "experiments", multiple=True, metavar="NAME",
    help="Export only this experiment (repeatable), with the model versions of its runs.",
)  # fmt: skip
@click.pass_context
def export_mlflow(ctx: click.Context, dest: str, experiments: tuple[str, ...]) -> None:
    """Write nbtrack's experiments, runs, artifacts and registry into an MLflow store.

    DEST is an MLflow tracking URI or a ./mlruns directory (created if needed);
    MLflow's UI and client read the result. Exporting again skips runs and
    model versions already there.

    Example: nbtrack export-mlflow sqlite:///mlflow.db -e vision
    """
    from nbtrack.mlflow_io import export_mlflow as run_export

    report = run_export(dest, tracking_uri=_tracking_uri(ctx), experiments=experiments or None)
    click.echo(report.summary())


def register(main: click.Group) -> None:
    """Add both commands to the ``nbtrack`` group."""
    main.add_command(import_mlflow)
    main.add_command(export_mlflow)
