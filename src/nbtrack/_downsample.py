"""Min/max downsampling of a metric history, for charts that must stay small.

The points are cut into ``(max_points - 2) // 2`` buckets by position and each
bucket keeps the index of its minimum and of its maximum, plus the first and the
last point, so spikes survive and a 10^6-point history stays under
``max_points``. NaN never wins a bucket. Only numpy is needed (no Altair or
pandas): the in-notebook charts (``nbtrack.ui``) and the server extension's history
endpoint both use it, so a chart shows the same points in either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


def minmax_indices(
    values: Sequence[float] | npt.NDArray[np.float64], max_points: int
) -> np.ndarray[Any, np.dtype[np.intp]]:
    """Sorted indices of the points to keep; all of them when there are at most ``max_points``.

    ``values`` may hold NaN (kept only where a whole bucket has nothing else).
    """
    import numpy as np

    n = len(values)
    if n <= max_points:
        return np.arange(n)

    data = np.asarray(values, dtype=np.float64)
    missing = np.isnan(data)
    buckets = max(1, (max_points - 2) // 2)
    width = -(-n // buckets)  # ceiling division: every point falls in a bucket
    rows = -(-n // width)
    # Pad to a rectangle whose padding never wins: +inf for the minima, -inf for the maxima.
    lows = np.full(rows * width, np.inf)
    highs = np.full(rows * width, -np.inf)
    lows[:n] = np.where(missing, np.inf, data)
    highs[:n] = np.where(missing, -np.inf, data)
    starts = np.arange(rows) * width
    keep = np.concatenate(
        (
            starts + lows.reshape(rows, width).argmin(axis=1),
            starts + highs.reshape(rows, width).argmax(axis=1),
            (0, n - 1),
        )
    )
    return np.unique(keep[keep < n])
