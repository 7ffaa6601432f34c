"""Live charts: a chart redrawn in place while a run logs, from a background thread.

The thread polls the store (committed points only, read incrementally:
``step > last seen``) every ``interval`` seconds; it never flushes or touches
the writer, so the training loop pays nothing but the CPU of a redraw, at
most ``1 / interval`` times a second (``interval`` is at least
:data:`MIN_INTERVAL`). It stops by itself once the run has ended, after a
last redraw with the final points.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nbtrack import fluent
from nbtrack.client import TrackingClient
from nbtrack.exceptions import InvalidInputError
from nbtrack.ui._charts import MAX_POINTS, MetricChart, Series, chart_for, run_labels

logger = logging.getLogger(__name__)

MIN_INTERVAL = 0.2  # at most 5 redraws a second


class LiveChart:
    """A chart of ``keys`` for one run that redraws while the run logs.

    ``render`` receives each new :class:`MetricChart` (default: update a
    display in place). ``redraws`` counts the redraws so far.
    """

    def __init__(
        self,
        keys: Sequence[str],
        run_id: str,
        interval: float = 0.5,
        client: TrackingClient | None = None,
        render: Callable[[MetricChart], None] | None = None,
        max_points: int = MAX_POINTS,
    ) -> None:
        if not keys:
            raise InvalidInputError("live() needs at least one metric key")
        self.keys = list(keys)
        self.run_id = run_id
        self.interval = max(MIN_INTERVAL, float(interval))
        self.client = client or TrackingClient()
        self.max_points = max_points
        self.label = run_labels(self.client, [run_id])[run_id]
        self.redraws = 0
        self.redraw_times: list[float] = []
        self.error: BaseException | None = None
        self._render = render or self._update_display
        self._handle: Any = None
        self._points: dict[str, list[np.ndarray[Any, Any]]] = {k: [] for k in self.keys}
        self._last_step: dict[str, int | None] = dict.fromkeys(self.keys)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nbtrack-live", daemon=True)

    def start(self) -> LiveChart:
        """Draw once, then start polling in the background."""
        self._poll()
        self._draw()
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        """Whether the background thread still polls."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop polling now (the chart keeps its last drawing)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to finish (after :meth:`stop` or the run's end)."""
        self._thread.join(timeout)

    def chart(self, static: bool = True) -> MetricChart:
        """The chart of every point read so far (``static``: with its SVG copy for exports)."""
        import altair as alt

        charts: list[Any] = []
        counts = []
        for key in self.keys:
            chunks = self._points[key]
            table = np.concatenate(chunks) if chunks else np.empty((0, 3))
            series = Series(self.label, table[:, 0], table[:, 1], table[:, 2])
            charts.append(chart_for(key, [series], max_points=self.max_points)[0])
            last = f", last {table[-1, 2]:.6g}" if len(table) else ""
            counts.append(f"{key}: {len(table)} points{last}")
        top: alt.TopLevelMixin = charts[0] if len(charts) == 1 else alt.vconcat(*charts)
        return MetricChart(top, f"live {self.label}: " + "; ".join(counts), static=static)

    # -- background thread ---------------------------------------------------------------

    def _poll(self) -> bool:
        """Read points logged since the last poll; whether there were any."""
        changed = False
        for key in self.keys:
            steps, times, values = self.client.queries.metric_arrays(
                self.run_id, key, self._last_step[key]
            )
            if len(steps):
                self._points[key].append(np.column_stack([steps, times, values]))
                self._last_step[key] = int(steps[-1])
                changed = True
        return changed

    def _draw(self, final: bool = False) -> None:
        # Only the last drawing pays for the static SVG copy (~0.2 s): exports show that one.
        self._render(self.chart(static=final))
        self.redraws += 1
        self.redraw_times.append(time.monotonic())

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                ended = self.client.queries.run_status(self.run_id) != "RUNNING"
                if self._poll() or ended:
                    self._draw(final=ended)
                if ended:
                    logger.debug("live chart: run %s ended", self.run_id)
                    return
        except Exception as exc:  # a thread must not die silently: kept and logged
            self.error = exc
            logger.warning("live chart of run %s stopped: %s", self.run_id, exc)

    def _update_display(self, chart: MetricChart) -> None:
        from nbtrack.ui._display import chart_metadata, show

        bundle = chart._repr_mimebundle_()
        metadata = chart_metadata(bundle)
        if self._handle is None:
            self._handle = show(bundle, raw=True, metadata=metadata, display_id=True)
        else:
            self._handle.update(bundle, raw=True, metadata=metadata)


def live(
    keys: str | Sequence[str],
    run: str | None = None,
    interval: float = 0.5,
    client: TrackingClient | None = None,
) -> LiveChart:
    """Show a chart of ``keys`` that updates while ``run`` (default: the active run) logs."""
    if run is None:
        active = fluent.active_run()
        if active is None:
            raise InvalidInputError("no active run: start one, or pass run=RUN_ID")
        run = active.info.run_id
        client = client or active.client
    key_list = [keys] if isinstance(keys, str) else list(keys)
    return LiveChart(key_list, run, interval, client).start()
