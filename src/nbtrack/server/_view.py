"""What the Experiments view reads: many histories at once, and the compare data.

``histories`` serves a chart grid (every metric of several runs) in one request:
the store reads it (``store.queries.grid_series``: whole when short, through the
server's history cache; sampled at ``max_points`` evenly spaced steps by index
seeks when long). ``compare`` gives the params side by side (which differ), each
metric's last / min / max, and the cell diff of two runs' notebooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbtrack import _cell_diff
from nbtrack.client import TrackingClient
from nbtrack.exceptions import InvalidInputError
from nbtrack.server._queries import finite, metrics_detail

if TYPE_CHECKING:
    from nbtrack.store.queries import SeriesCache
    from nbtrack.store.sql_store import SqlStore

#: At most this many runs per histories or compare request (a chart grid of 20 runs
#: is already hard to read), and this many series in all.
MAX_RUNS = 50
MAX_SERIES = 2000
MAX_COMPARE_RUNS = 20
#: Bounds of ``max_points`` for one series of a grid (a chart is a few hundred pixels wide).
MAX_GRID_POINTS = 10_000


@dataclass(frozen=True)
class HistoriesQuery:
    """The arguments of ``GET histories``, checked."""

    run_ids: list[str]
    keys: list[str]
    max_points: int


def histories_query(run_ids: Sequence[str], keys: Sequence[str], max_points: int) -> HistoriesQuery:
    """Check the arguments of ``GET histories`` (raises :class:`InvalidInputError`)."""
    runs = list(dict.fromkeys(r for r in run_ids if r))
    wanted = list(dict.fromkeys(k for k in keys if k))
    if not runs:
        raise InvalidInputError("give at least one run: histories?run_id=<id>&key=<metric>")
    if not wanted:
        raise InvalidInputError("give at least one metric: histories?run_id=<id>&key=<metric>")
    if len(runs) > MAX_RUNS:
        raise InvalidInputError(f"at most {MAX_RUNS} runs per request, not {len(runs)}")
    if len(runs) * len(wanted) > MAX_SERIES:
        raise InvalidInputError(
            f"at most {MAX_SERIES} series (runs x keys) per request, not "
            f"{len(runs)} x {len(wanted)}; ask for fewer metrics at a time"
        )
    return HistoriesQuery(runs, wanted, max_points)


def histories(store: SqlStore, cache: SeriesCache, query: HistoriesQuery) -> list[dict[str, Any]]:
    """Every (run, key) series of ``query`` in columns, sampled past ``max_points``.

    Each entry: ``{"run_id", "key", "steps", "timestamps", "values", "downsampled",
    "total_points"}`` (``total_points`` is null for a sampled series: counting it would
    scan it); a key a run never logged has empty columns. An unknown run raises
    :class:`~nbtrack.exceptions.NotFoundError`.
    """
    found = store.queries.grid_series(cache, query.run_ids, query.keys, query.max_points)
    return [
        {
            "run_id": series.run_id,
            "key": series.key,
            "steps": series.steps,
            "timestamps": series.timestamps,
            "values": [finite(v) for v in series.values],
            "downsampled": series.downsampled,
            "total_points": series.total_points,
        }
        for series in found
    ]


# -- compare ---------------------------------------------------------------------------


def compare_ids(run_ids: Sequence[str]) -> list[str]:
    """The run ids of ``GET compare``, checked (1..MAX_COMPARE_RUNS, no duplicates)."""
    runs = list(dict.fromkeys(r for r in run_ids if r))
    if not runs:
        raise InvalidInputError("give the runs to compare: compare?run_id=<id>&run_id=<id>")
    if len(runs) > MAX_COMPARE_RUNS:
        raise InvalidInputError(
            f"compare takes at most {MAX_COMPARE_RUNS} runs, not {len(runs)}; select fewer"
        )
    return runs


def compare(
    store: SqlStore, run_ids: Sequence[str], base: str | None, other: str | None
) -> dict[str, Any]:
    """Params side by side, metric summaries, and the notebook diff of ``base`` → ``other``.

    ``base`` and ``other`` default to the first two runs; with one run there is no diff.
    """
    runs = [store.get_run(run_id) for run_id in run_ids]
    for name, chosen in (("base", base), ("other", other)):
        if chosen is not None and chosen not in run_ids:
            raise InvalidInputError(f"{name} {chosen!r} is not one of the runs compared")
    param_keys = sorted({k for r in runs for k in r.data.params})
    differing = [k for k in param_keys if len({r.data.params.get(k) for r in runs}) > 1]
    details = {run_id: metrics_detail(store, run_id) for run_id in run_ids}
    metric_keys = sorted({k for found in details.values() for k in found})
    first = base or next((r for r in run_ids if r != other), None)
    second = other or next((r for r in run_ids if r != first), None)
    return {
        "runs": [
            {
                "run_id": r.info.run_id,
                "run_name": r.info.run_name,
                "status": r.info.status,
                "start_time": r.info.start_time,
                "params": r.data.params,
                "metrics": {
                    key: {"last": d["value"], "min": d["min"], "max": d["max"], "step": d["step"]}
                    for key, d in details[r.info.run_id].items()
                },
            }
            for r in runs
        ],
        "param_keys": param_keys,
        "differing_params": differing,
        "metric_keys": metric_keys,
        "diff": _diff(store, first, second) if first and second and first != second else None,
    }


def _diff(store: SqlStore, base: str, other: str) -> dict[str, Any]:
    client = TrackingClient(store.uri)
    old, old_source = _cell_diff.load_cells(client, base)
    new, new_source = _cell_diff.load_cells(client, other)
    changes = _cell_diff.diff_cells(old, new)
    return {
        "base": base,
        "other": other,
        "sources": [old_source, new_source],
        "summary": _cell_diff.summary(changes),
        "changes": [
            {
                "kind": c.kind,
                "old": _cell_json(c.old),
                "new": _cell_json(c.new),
                "line_diff": c.line_diff() if c.kind == "source" else [],
            }
            for c in changes
        ],
    }


def _cell_json(cell: _cell_diff.Cell | None) -> dict[str, Any] | None:
    if cell is None:
        return None
    return {"cell_id": cell.cell_id, "source": cell.source, "outputs": cell.outputs}
