"""``nbtrack run``, ``nbtrack reproduce`` and ``nbtrack sweep``: the projects commands.

Registered on the main group by :func:`register` (called at the bottom of
:mod:`nbtrack.cli`). Heavy imports (nbclient, dask) happen when a command runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from nbtrack._cli_runs import existing_store_client, resolve_run
from nbtrack._table import format_table


def _tracking_uri(ctx: click.Context) -> str | None:
    obj = ctx.find_root().obj or {}
    uri = obj.get("tracking_uri")
    return str(uri) if uri else None


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def _run_id(ctx: click.Context, prefix: str) -> str:
    return resolve_run(existing_store_client(_tracking_uri(ctx)), prefix).info.run_id


_progress_option = click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr. Default: only when stderr is a terminal.",
)
_kernel_option = click.option(
    "--kernel", help="Jupyter kernel name. Default: the notebook's kernelspec, else python3."
)
_timeout_option = click.option(
    "--cell-timeout", type=float, metavar="S", help="Fail a cell that runs longer than S seconds."
)


@click.command("run")
@click.argument("notebook", type=click.Path(dir_okay=False))
@click.option(
    "-p", "--parameter", "pairs", multiple=True, metavar="NAME=VALUE",
    help="Parameter to inject (repeatable), typed like its default in the parameters cell.",
)  # fmt: skip
@click.option(
    "-f", "--parameters-file", type=click.Path(dir_okay=False),
    help="YAML or JSON file of parameters (-p values win).",
)  # fmt: skip
@click.option(
    "--experiment", "-e",
    help="Experiment to log into (created if needed). Default: the notebook's "
    "`%track start --experiment E`, else Default.",
)  # fmt: skip
@click.option(
    "--name",
    help="Run name. Default: the notebook's `%track start NAME`, else a generated one.",
)
@_kernel_option
@_timeout_option
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="Also write the executed notebook here."
)
@click.option("--allow-new", is_flag=True, help="Inject parameters the notebook does not define.")
@_progress_option
@click.pass_context
def run_command(
    ctx: click.Context,
    notebook: str,
    pairs: Sequence[str],
    parameters_file: str | None,
    experiment: str | None,
    name: str | None,
    kernel: str | None,
    cell_timeout: float | None,
    output: str | None,
    allow_new: bool,
    progress: bool | None,
) -> None:
    """Execute NOTEBOOK headless in a fresh kernel as one tracked run.

    Parameters go into a new cell after the cell tagged `parameters` (at the
    top when there is none). The run gets the params, everything the notebook
    logs, the executed notebook, the environment and the cell timeline. A
    failing cell makes the run FAILED and the command exit 1; Ctrl-C makes it
    KILLED (exit 130).

    \b
    Example:
      nbtrack run train.ipynb -p lr=0.01 -p epochs=20 --experiment mnist
    """
    from nbtrack import projects
    from nbtrack.projects import _parameters

    values: dict[str, Any] = {}
    if parameters_file:
        values.update(_parameters.load_file(parameters_file))
    values.update(_parameters.parse_pairs(pairs))
    try:
        result = projects.run(
            notebook,
            values,
            experiment=experiment,
            run_name=name,
            kernel=kernel,
            cell_timeout=cell_timeout,
            output=output,
            allow_new=allow_new,
            tracking_uri=_tracking_uri(ctx),
            progress=progress,
            warn=_warn,
        )
    except projects.NotebookExecutionError as exc:
        click.echo(exc.failure.describe(color=sys.stderr.isatty()), err=True)
        click.echo(f"\nRun {exc.run.info.run_id} FAILED.", err=True)
        ctx.exit(1)
    except projects.RunInterrupted as exc:
        click.echo(
            f"\nInterrupted: run {exc.run.info.run_id} marked KILLED; the kernel was shut down.",
            err=True,
        )
        ctx.exit(130)
    info = result.info
    seconds = ((info.end_time or info.start_time) - info.start_time) / 1000
    click.echo(f"Run {info.run_name!r} ({info.run_id}) {info.status} in {seconds:.1f} s")
    metrics = sorted(result.data.metrics.items())
    if metrics:
        click.echo(format_table(["metric", "last"], [(k, _num(v)) for k, v in metrics], indent=2))
    click.echo(f"Next: nbtrack runs show {info.run_id[:8]}")


@click.command("reproduce")
@click.argument("run")
@click.option(
    "--tolerance", default=0.0, show_default=True, type=float, metavar="T",
    help="Metrics agree when |new - old| <= T, or within T relative to the larger.",
)  # fmt: skip
@click.option(
    "--order", type=click.Choice(["file", "executed"]), default="file", show_default=True,
    help="file: the snapshot top to bottom; executed: the cells in the order they ran.",
)  # fmt: skip
@_kernel_option
@_timeout_option
@_progress_option
@click.pass_context
def reproduce_command(
    ctx: click.Context,
    run: str,
    tolerance: float,
    order: str,
    kernel: str | None,
    cell_timeout: float | None,
    progress: bool | None,
) -> None:
    """Re-execute RUN's notebook with its params and compare the results.

    RUN is a run id or a unique prefix. The new run is tagged
    nbtrack.reproduces=RUN and stores the comparison as reproduce.json. Exits
    0 only when every final metric agrees within the tolerance.

    \b
    Example:
      nbtrack reproduce 3f2a9c --tolerance 1e-6
    """
    from nbtrack import projects

    run_id = _run_id(ctx, run)
    report = projects.reproduce(
        run_id,
        tolerance=tolerance,
        order=order,
        kernel=kernel,
        cell_timeout=cell_timeout,
        tracking_uri=_tracking_uri(ctx),
        progress=progress,
        warn=lambda message: click.echo(f"warning: {message}\n", err=True),
    )
    _print_report(report)
    ctx.exit(0 if report.ok else 1)


def _print_report(report: Any) -> None:
    new = report.run.info
    click.echo(f"Reproduction of {report.original.info.run_id}: run {new.run_id} {new.status}")
    if report.failure is not None:
        click.echo(report.failure.describe(color=sys.stderr.isatty()), err=True)
    rows = [
        (m.key, _num(m.old), _num(m.new), _num(m.delta), "yes" if m.agree else "NO")
        for m in report.metrics
    ]
    if rows:
        click.echo("\nMetrics (final values)")
        click.echo(format_table(["metric", "old", "new", "delta", "agree"], rows, indent=2))
    env = report.environment
    click.echo("\nEnvironment")
    if env.same:
        click.echo("  same Python, packages and git commit")
    for side in env.missing:
        click.echo(f"  the {side} run has no environment.json")
    if env.python:
        click.echo(f"  python: {env.python[0]} -> {env.python[1]}")
    if env.git_commit:
        click.echo(f"  git commit: {env.git_commit[0]} -> {env.git_commit[1]}")
    for name, version in sorted(env.packages_added.items()):
        click.echo(f"  + {name} {version}")
    for name, version in sorted(env.packages_removed.items()):
        click.echo(f"  - {name} {version}")
    for name, (old, new_version) in sorted(env.packages_changed.items()):
        click.echo(f"  ~ {name} {old} -> {new_version}")
    disagree = [m.key for m in report.metrics if not m.agree]
    if report.ok:
        click.echo(
            f"\nReproduced: {len(report.metrics)} metric(s) agree within {report.tolerance:g}."
        )
    elif new.status != "FINISHED":
        click.echo(f"\nNot reproduced: the new run is {new.status}.")
    else:
        click.echo(f"\nNot reproduced: {', '.join(disagree)} differ beyond {report.tolerance:g}.")


@click.command("sweep")
@click.argument("notebook", required=False, type=click.Path(dir_okay=False))
@click.option("--grid", multiple=True, metavar="NAME=V1,V2", help="Values to try (repeatable).")
@click.option("--random", "n_random", default=0, metavar="N", help="Random samples of --space.")
@click.option(
    "--space", multiple=True, metavar="NAME=DIST",
    help="uniform(a,b), loguniform(a,b), int(a,b) or choice(x,y,...) (repeatable).",
)  # fmt: skip
@click.option("--seed", type=int, help="Seed for --random (same seed, same samples).")
@click.option(
    "--experiment", "-e",
    help="Experiment to log into (created if needed). Default: the notebook's "
    "`%track start --experiment E`, else Default.",
)  # fmt: skip
@click.option("--name", help="Name of the parent run. Default: sweep-<notebook>.")
@click.option("--metric", "-m", help="Metric to rank the runs by (lowest first).")
@click.option("--maximize", is_flag=True, help="Rank by the highest --metric instead.")
@click.option(
    "--jobs", "-j", type=int, default=lambda: os.cpu_count() or 1,
    show_default="number of CPUs", help="Runs at once.",
)  # fmt: skip
@click.option(
    "--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
    help="local: a process pool; dask: a dask.distributed cluster.",
)  # fmt: skip
@click.option(
    "--scheduler", metavar="ADDRESS",
    help="Dask scheduler (tcp://host:8786). Default: a LocalCluster on 127.0.0.1.",
)  # fmt: skip
@click.option("--resume", metavar="SWEEP_RUN", help="Run only the combinations not yet finished.")
@_kernel_option
@_timeout_option
@click.option("--allow-new", is_flag=True, help="Inject parameters the notebook does not define.")
@_progress_option
@click.pass_context
def sweep_command(
    ctx: click.Context,
    notebook: str | None,
    grid: Sequence[str],
    n_random: int,
    space: Sequence[str],
    seed: int | None,
    experiment: str | None,
    name: str | None,
    metric: str | None,
    maximize: bool,
    jobs: int,
    executor: str,
    scheduler: str | None,
    resume: str | None,
    kernel: str | None,
    cell_timeout: float | None,
    allow_new: bool,
    progress: bool | None,
) -> None:
    """Run NOTEBOOK once per parameter combination: a parent run with one child each.

    A failing child does not stop the others (exit 1 at the end, and --resume
    reruns what did not finish). Prints the runs sorted by --metric and the
    best run's id.

    \b
    Example:
      nbtrack sweep train.ipynb --grid lr=0.1,0.01 --grid batch=32,64 --metric val_loss -j 2
    """
    from nbtrack import projects
    from nbtrack.projects import _space

    parent = _run_id(ctx, resume) if resume else None
    try:
        result = projects.sweep(
            notebook,
            grid=_space.parse_grid(grid),
            space=_space.parse_space(space),
            n_random=n_random,
            seed=seed,
            experiment=experiment,
            run_name=name,
            metric=metric,
            maximize=maximize,
            jobs=jobs,
            executor=executor,
            scheduler=scheduler,
            resume=parent,
            kernel=kernel,
            cell_timeout=cell_timeout,
            allow_new=allow_new,
            tracking_uri=_tracking_uri(ctx),
            progress=progress,
            warn=_warn,
        )
    except projects.SweepInterrupted as exc:
        click.echo(f"\nInterrupted: sweep {exc.parent.info.run_id} marked KILLED.", err=True)
        ctx.exit(130)
    summary = projects.summarize(
        result.info.run_id, metric, maximize=maximize or None, tracking_uri=_tracking_uri(ctx)
    )
    _print_summary(summary, result.info.run_id)
    ctx.exit(0 if result.info.status == "FINISHED" else 1)


def _print_summary(summary: Any, parent_id: str) -> None:
    names = sorted({k for row in summary.rows for k in row.parameters})
    header = ["#", "run_id", "status", *names]
    if summary.metric:
        header.append(summary.metric)
    rows = []
    for row in summary.rows:
        cells = [str(row.index), (row.run_id or "")[:8], row.status]
        cells += [row.parameters.get(k, "") for k in names]
        if summary.metric:
            cells.append(_num(row.value))
        rows.append(cells)
    click.echo(f"Sweep {summary.parent.info.run_name!r} ({parent_id}) {summary.parent.info.status}")
    click.echo(format_table(header, rows))
    best = summary.best
    if best is not None:
        click.echo(f"\nBest: run {best.run_id} ({summary.metric} = {_num(best.value)})")
    unfinished = [row for row in summary.rows if row.status != "FINISHED"]
    for row in unfinished:
        click.echo(f"  #{row.index} {row.status}: {row.error or 'no error recorded'}", err=True)
    if unfinished:
        click.echo(
            f"\n{len(unfinished)} run(s) did not finish; rerun only those with "
            f"nbtrack sweep --resume {parent_id[:8]}",
            err=True,
        )


def register(group: click.Group) -> None:
    """Add the projects commands to the ``nbtrack`` group."""
    for command in (run_command, reproduce_command, sweep_command):
        group.add_command(command)
