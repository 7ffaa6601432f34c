"""What each endpoint reads, as JSON-ready dictionaries (blocking: run off the event loop).

Everything reads the store through its read side (``store.queries``, see
:mod:`nbtrack.store.queries`) or its public methods, without flushing any
writer, so polling never waits on a process that is logging; values appear
once their writer has committed them. No SQL is written here. Non-finite
floats (NaN, infinities) become ``null``, since JSON has no spelling for them.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbtrack._downsample import minmax_indices
from nbtrack.entities import ArtifactInfo, CellEvent, Experiment, Run
from nbtrack.exceptions import InvalidInputError, NotFoundError
from nbtrack.store.artifacts import normalize_artifact_path

if TYPE_CHECKING:
    from pathlib import Path

    from nbtrack.store.queries import RunSummary, SeriesCache
    from nbtrack.store.sql_store import SqlStore

#: The tag in which the tracker records the notebook a run came from (an absolute path).
NOTEBOOK_TAG = "nbtrack.notebook"
#: Artifact names the tracker gives the notebook snapshot and the environment record
#: (nbtrack.notebook._tracker; not imported: it would load IPython into the server).

MAX_RESULTS_LIMIT = 1000
MAX_POINTS_LIMIT = 100_000
#: The largest page offset a token may hold (the database's integers are 64-bit).
MAX_OFFSET = 2**62
#: How many experiment_id arguments one runs query may give.
MAX_EXPERIMENT_IDS = 1000
_VIEWS = ("active", "deleted", "all")


def finite(value: float | None) -> float | None:
    """``value``, or None when it is missing, NaN or infinite."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def view_of(view: str | None) -> str:
    """A lifecycle view ('active' by default, 'deleted' or 'all'), checked."""
    if view is None or view == "":
        return "active"
    if view not in _VIEWS:
        raise InvalidInputError(f"view {view!r} is not one of {', '.join(_VIEWS)}")
    return view


def bounded_int(text: str | None, name: str, default: int, low: int, high: int) -> int:
    """A query argument that must be an integer in ``[low, high]``."""
    if text is None or text == "":
        return default
    number = None
    if len(text) <= 20:  # longer is out of range anyway; int() of 5,000 digits is an error
        try:
            number = int(text)
        except ValueError:
            raise InvalidInputError(f"{name} must be an integer, not {text!r}") from None
    if number is None or not low <= number <= high:
        shown = text if len(text) <= 20 else text[:17] + "..."
        raise InvalidInputError(f"{name} must be between {low} and {high}, not {shown}")
    return number


# -- experiments --------------------------------------------------------------------


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    """An experiment as the API spells it."""
    return {
        "experiment_id": experiment.experiment_id,
        "name": experiment.name,
        "lifecycle_stage": experiment.lifecycle_stage,
        "creation_time": experiment.creation_time,
        "tags": experiment.tags,
    }


def experiments(store: SqlStore, view: str | None) -> list[dict[str, Any]]:
    """Every experiment in a lifecycle view, oldest first."""
    return [experiment_json(e) for e in store.search_experiments(view_of(view))]


# -- runs -------------------------------------------------------------------------


@dataclass(frozen=True)
class RunQuery:
    """The arguments of ``GET runs``, checked."""

    experiment_ids: list[str] | None
    filter_string: str | None
    order_by: list[str]
    view: str
    max_results: int
    offset: int
    notebook_paths: tuple[str, ...]


def encode_page_token(offset: int) -> str:
    """The opaque token of the page starting at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    """The offset a page token stands for (0 without one)."""
    if not token:
        return 0
    offset = None
    if len(token) <= 100:  # the server's tokens are about 20 characters
        try:
            offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        except (binascii.Error, ValueError, KeyError, TypeError):
            offset = None
    # bool is an int; an offset beyond 64 bits overflows the database's integers.
    if type(offset) is not int or not 0 <= offset <= MAX_OFFSET:
        shown = token if len(token) <= 40 else token[:37] + "..."
        raise InvalidInputError(
            f"page_token {shown!r} is not one this server gave; pass the next_page_token "
            "of the previous answer, or none for the first page"
        )
    return offset


def notebook_candidates(file: Path | None) -> tuple[str, ...]:
    """How a run's notebook tag may spell ``file`` (as given, and with links resolved)."""
    if file is None:
        return ()
    return tuple(dict.fromkeys((str(file), str(file.resolve()))))


def run_json(run: Run, notebook: str | None, current: bool) -> dict[str, Any]:
    """A RunSummary of a whole run: identity, status, times, notebook, params, latest
    metrics and tags."""
    info, data = run.info, run.data
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "notebook": notebook,
        "current_notebook": current,
        "params": data.params,
        "metrics": {k: finite(v) for k, v in data.metrics.items()},
        "tags": data.tags,
    }


def summary_json(run: RunSummary, notebook: str | None, current: bool) -> dict[str, Any]:
    """A RunSummary (as :func:`run_json` spells it) from the store's run summary."""
    metrics = run.metrics
    if not all(v is None or math.isfinite(v) for v in metrics.values()):
        metrics = {k: finite(v) for k, v in metrics.items()}
    return {
        "run_id": run.run_id,
        "run_name": run.run_name,
        "experiment_id": run.experiment_id,
        "status": run.status,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "notebook": notebook,
        "current_notebook": current,
        "params": run.params,
        "metrics": metrics,
        "tags": run.tags,
    }


def search_runs(store: SqlStore, query: RunQuery) -> tuple[list[RunSummary], set[str], bool]:
    """One page of runs: those of the current notebook first, then ``order_by`` order.

    Returns the runs, the ids of those from the current notebook, and whether more follow.
    A bad filter or ``order_by`` raises :class:`~nbtrack.exceptions.FilterSyntaxError`.
    """
    paths = query.notebook_paths
    page = store.queries.run_summaries(
        query.experiment_ids,
        query.filter_string,
        query.order_by,
        query.view,
        query.max_results,
        query.offset,
        first=(NOTEBOOK_TAG, paths) if paths else None,
    )
    current = {r.run_id for r in page.runs if r.tags.get(NOTEBOOK_TAG) in paths} if paths else set()
    return page.runs, current, page.more


def metrics_detail(store: SqlStore, run_id: str) -> dict[str, dict[str, Any]]:
    """``{key: {value, step, timestamp, min, max}}`` of a run's metrics (latest values table)."""
    return {
        key: {
            "value": finite(m.value),
            "step": m.step,
            "timestamp": m.timestamp,
            "min": finite(m.min),
            "max": finite(m.max),
        }
        for key, m in store.queries.metric_summaries(run_id).items()
    }


# -- one run's details ----------------------------------------------------------------


def history(
    store: SqlStore, cache: SeriesCache, run_id: str, key: str, max_points: int
) -> dict[str, Any]:
    """A metric's points by step, min/max-downsampled to ``max_points`` when longer."""
    series = store.queries.series(cache, run_id, key)
    keep = minmax_indices(series.values, max_points)
    steps, timestamps, values = (
        series.steps[keep].tolist(),
        series.timestamps[keep].tolist(),
        series.values[keep].tolist(),
    )
    return {
        "key": key,
        "points": [
            {"step": step, "timestamp": timestamp, "value": finite(value)}
            for step, timestamp, value in zip(steps, timestamps, values, strict=True)
        ],
        "downsampled": len(keep) < len(series),
        "total_points": len(series),
    }


def timeline(store: SqlStore, run_id: str) -> list[dict[str, Any]]:
    """The run's executed cells, each with the metrics, params, tags and artifacts it logged."""
    events = store.cell_timeline(run_id)
    logged: dict[int, dict[str, list[str]]] = {
        e.seq: {"metrics": [], "params": [], "tags": [], "artifacts": []} for e in events
    }
    found: list[tuple[str, str, int]] = [
        ("metrics", key, span.cell.seq)
        for key in store.metric_keys_of(run_id)
        for span in store.metric_provenance(run_id, key)
    ]
    for kind, by_name in store.value_cells(run_id).items():
        found += [(kind, name, seq) for name, seq in sorted(by_name.items())]
    for kind, name, seq in found:
        if seq in logged and kind in logged[seq]:  # a write still queued may name a newer cell
            logged[seq][kind].append(name)
    return [_cell_json(e, logged[e.seq]) for e in events]


def _cell_json(event: CellEvent, logged: dict[str, list[str]]) -> dict[str, Any]:
    finished = None if event.duration_ms is None else event.start_time + event.duration_ms
    return {
        "seq": event.seq,
        "execution_count": event.execution_count,
        "cell_id": event.cell_id,
        "source": event.source,
        "started": event.start_time,
        "finished": finished,
        "duration_ms": event.duration_ms,
        "outcome": event.outcome,
        "error": event.outcome == "error",
        "error_type": event.error_type,
        "error_message": event.error_message,
        **logged,
    }


def artifacts(store: SqlStore, run_id: str, path: str | None) -> list[dict[str, Any]]:
    """The files and directories directly under ``path`` (the run's root by default)."""
    prefix = normalize_artifact_path(path) if path else ""
    listed: list[ArtifactInfo] = store.list_artifacts(run_id, prefix)
    return [{"path": a.path, "is_dir": a.is_dir, "file_size": a.file_size} for a in listed]


def stored_document(store: SqlStore, run_id: str, name: str, what: str) -> bytes:
    """The bytes of a JSON document the tracker stores as artifact ``name`` ({what} if absent).

    Checked against its sha256: a damaged blob is an ArtifactIntegrityError, never served.
    """
    try:
        _, chunks, _ = artifact_file(store, run_id, name)
    except NotFoundError:
        store.run_pk(run_id)  # an unknown run says so, rather than "no snapshot"
        raise NotFoundError(f"run {run_id} has no {what} (artifact {name!r})") from None
    return b"".join(chunks)


def artifact_file(
    store: SqlStore, run_id: str, path: str | None
) -> tuple[str, Iterator[bytes], int]:
    """``(canonical path, content in checked chunks, size)`` of one artifact file of a run.

    An absolute path or one with ``..`` is :class:`InvalidInputError`; a path the
    run does not have (or a directory) is :class:`NotFoundError`. The chunks come
    from :meth:`~nbtrack.store.artifacts.BlobStore.chunks`: a blob whose size
    differs from the recorded one fails before the first chunk, one whose sha256
    differs before the last.
    """
    if not path:
        raise InvalidInputError("give the artifact's path, e.g. ?path=plots/loss.png")
    target = normalize_artifact_path(path)
    rows = store.artifact_rows(run_id, target)
    exact = [(sha, size) for p, sha, size in rows if p == target]
    if not exact:
        what = "a directory; list it with artifacts?path=" if rows else "no such file"
        raise NotFoundError(f"run {run_id} has no artifact file {target!r}: {what}")
    sha, size = exact[0]
    blob = store.blobs.path_of(sha)  # refuses a row whose sha256 is not one
    if not blob.is_file():
        raise NotFoundError(
            f"the content of artifact {target!r} of run {run_id} is gone from the store "
            f"({blob} is missing)"
        )
    return target, store.blobs.chunks(sha, int(size)), int(size)
