"""``nbtrack artifacts ...``: list, log and download a run's artifacts.

Transfers show a progress bar on the terminal (tqdm, on stderr) when they
move more than :data:`PROGRESS_MIN_BYTES`; files go several at once, and every
file downloaded is checked against its sha256 before it is put in place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from nbtrack._cli_runs import resolve_run
from nbtrack._table import format_table
from nbtrack.client import TrackingClient
from nbtrack.store.artifacts import directory_files

#: Transfers smaller than this show no progress bar.
PROGRESS_MIN_BYTES = 8 << 20


def _client(ctx: click.Context, readonly: bool = False) -> TrackingClient:
    obj = ctx.find_root().obj or {}
    return TrackingClient(obj.get("tracking_uri"), readonly=readonly)


@contextlib.contextmanager
def progress_bar(total: int, what: str) -> Iterator[Callable[[int], object] | None]:
    """A byte-counting callback drawing a progress bar; None for small transfers.

    tqdm draws only on a terminal (``disable=None``), so piped output stays clean.
    """
    if total < PROGRESS_MIN_BYTES:
        yield None
        return
    from tqdm import tqdm  # type: ignore[import-untyped]

    with tqdm(
        total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=what, disable=None
    ) as bar:
        yield bar.update


def _run_id(ctx: click.Context, client: TrackingClient, run: str) -> str:

    return resolve_run(client, run).info.run_id


@click.group()
def artifacts() -> None:
    """A run's artifacts, wherever the store keeps them (a directory or a bucket).

    \b
    Example:
      nbtrack artifacts download 3f2a model -d ./model
    """


@artifacts.command("list")
@click.argument("run")
@click.argument("path", required=False, default="")
@click.pass_context
def artifacts_list(ctx: click.Context, run: str, path: str) -> None:
    """List the files of run RUN (an id or a prefix of one) at or under PATH.

    \b
    Example:
      nbtrack artifacts list 3f2a plots
    """
    client = _client(ctx, readonly=True)
    run_id = _run_id(ctx, client, run)
    rows = client.queries.artifact_files(run_id, path.strip("/"))
    click.echo(format_table(["path", "bytes", "sha256"], [(p, str(s), h) for p, h, s in rows]))


@artifacts.command("log")
@click.argument("run")
@click.argument("local_path", type=click.Path(exists=True, path_type=Path))
@click.option("-p", "--artifact-path", default=None, help="Directory in the run to log into.")
@click.pass_context
def artifacts_log(
    ctx: click.Context, run: str, local_path: Path, artifact_path: str | None
) -> None:
    """Log a local file or directory to run RUN (uploads go in parallel, streamed).

    \b
    Example:
      nbtrack artifacts log 3f2a ./checkpoints -p checkpoints
    """
    client = _client(ctx)
    run_id = _run_id(ctx, client, run)
    if local_path.is_dir():
        total = sum(file.stat().st_size for file, _ in directory_files(local_path))
        with progress_bar(total, "upload") as progress:
            logged = client.log_artifacts(run_id, local_path, artifact_path, progress=progress)
    else:
        with progress_bar(local_path.stat().st_size, "upload") as progress:
            logged = [client.log_artifact(run_id, local_path, artifact_path, progress=progress)]
    client.flush()
    click.echo(f"Logged {len(logged)} file(s) to run {run_id}.")


@artifacts.command("download")
@click.argument("run")
@click.argument("path", required=False, default="")
@click.option(
    "-d",
    "--dst",
    "destination",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Directory to download into (PATH keeps its layout below it).",
)
@click.pass_context
def artifacts_download(ctx: click.Context, run: str, path: str, destination: Path) -> None:
    """Download run RUN's artifact PATH (a file or a directory; all of them by default).

    Each file is checked against its sha256 before it is put in place.

    \b
    Example:
      nbtrack artifacts download 3f2a model -d ./model
    """
    client = _client(ctx, readonly=True)
    run_id = _run_id(ctx, client, run)
    rows = client.queries.artifact_files(run_id, path.strip("/"))
    with progress_bar(sum(size for _, _, size in rows), "download") as progress:
        where = client.download_artifacts(run_id, path, destination, progress=progress)
    click.echo(f"Downloaded {len(rows)} file(s) to {where}.")
