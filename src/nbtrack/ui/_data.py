"""What the panels read, through the store's read side (``client.queries``).

The panels never write SQL: pages of runs, counts, metric arrays and
summaries come from :class:`nbtrack.store.queries.Queries`, which reads the
store without flushing this process's writer, so a panel polling from a
background thread never waits on (or slows) a training loop that is logging.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbtrack.client import TrackingClient
from nbtrack.exceptions import NotFoundError
from nbtrack.store.queries import ATTRIBUTE_SORT, RunPage

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

__all__ = ["ATTRIBUTE_SORT", "RunPage", "experiment_ids", "metric_extremes"]


def experiment_ids(client: TrackingClient, experiment: str | None) -> list[str] | None:
    """Experiment ids for a name or id (None: every experiment)."""
    if experiment is None:
        return None
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return [found.experiment_id]
    if experiment.isdigit():
        return [experiment]
    raise NotFoundError(f"no experiment named {experiment!r}")


def metric_extremes(client: TrackingClient, run_id: str) -> dict[str, tuple[Any, Any, Any]]:
    """``{key: (last, min, max)}`` of every metric of a run (None for NaN), by key."""
    return {
        key: (m.value, m.min, m.max) for key, m in client.queries.metric_summaries(run_id).items()
    }
