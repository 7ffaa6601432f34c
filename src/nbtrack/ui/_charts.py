"""Metric charts: Altair line charts of histories, downsampled before they reach the browser.

A history of any length becomes at most ``max_points`` points per series:
the points are cut into ``max_points // 2`` buckets by position and each
bucket keeps its minimum and its maximum (in step order), so spikes survive
and the spec of a 10^6-point history stays far below 1 MB. EMA smoothing is
computed on the full history first. Specs are Vega-Lite v5 compatible (only
v5 features are used) and displayed offline, see :mod:`nbtrack.ui._display`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import altair as alt
import numpy as np

from nbtrack._downsample import minmax_indices
from nbtrack.client import TrackingClient
from nbtrack.entities import Run
from nbtrack.exceptions import InvalidInputError
from nbtrack.ui._display import chart_bundle, display_bundle, inline_data

if TYPE_CHECKING:
    from nbtrack.ui._data import FloatArray

MAX_POINTS = 2000


@dataclass
class Series:
    """One run's history of one metric, as float arrays (steps, wall times in ms, values).

    ``times`` may be None for a chart over steps: it is then neither read nor sent.
    """

    run: str
    steps: FloatArray
    times: FloatArray | None
    values: FloatArray


def ema(values: FloatArray, weight: float) -> FloatArray:
    """Exponential moving average, TensorBoard style: ``s[i] = w*s[i-1] + (1-w)*v[i]``."""
    if not 0.0 <= weight < 1.0:
        raise InvalidInputError(f"smoothing must be in [0, 1), got {weight}")
    out = np.empty_like(values)
    last = values[0] if len(values) else 0.0
    for i, value in enumerate(values.tolist()):
        last = weight * last + (1.0 - weight) * value
        out[i] = last
    return out


def _records(
    series: Sequence[Series], x: str, log: bool, smoothing: float, max_points: int
) -> tuple[list[dict[str, Any]], int, int]:
    """Chart rows of all series, with the number of points kept and logged in all."""
    records: list[dict[str, Any]] = []
    kept = total = 0
    for one in series:
        steps, values = one.steps, one.values
        times = one.times if x == "time" else None  # a step chart sends no wall times
        if x == "time" and times is None:
            raise InvalidInputError(f"a chart over time needs the wall times of {one.run}")
        if log:
            positive = values > 0
            steps, values = steps[positive], values[positive]
            times = times[positive] if times is not None else None
        total += len(values)
        smooth = ema(values, smoothing) if smoothing else None
        index = minmax_indices(values, max_points)
        kept += len(index)
        columns: dict[str, list[Any]] = {"step": steps[index].astype(np.int64).tolist()}
        if times is not None:
            columns["time"] = times[index].astype(np.int64).tolist()
        columns["value"] = values[index].tolist()
        if smooth is not None:
            columns["smoothed"] = smooth[index].tolist()
        names = list(columns)
        for row in zip(*columns.values(), strict=True):
            record = dict(zip(names, row, strict=True))
            record["run"] = one.run
            records.append(record)
    return records, kept, total


def chart_for(
    key: str,
    series: Sequence[Series],
    x: str = "step",
    log: bool = False,
    smoothing: float = 0.0,
    max_points: int = MAX_POINTS,
    width: int = 480,
    height: int = 240,
) -> tuple[alt.TopLevelMixin, bool]:
    """The Altair chart of one metric over several runs, and whether it was downsampled."""
    if x not in ("step", "time"):
        raise InvalidInputError(f"x must be 'step' or 'time', got {x!r}")
    records, kept, total = _records(series, x, log, smoothing, max_points)
    title = key
    downsampled = kept < total
    if downsampled:
        title = f"{key} (downsampled: {kept:,} of {total:,} points, min/max per bucket)"
    x_enc = alt.X("step:Q", title="step") if x == "step" else alt.X("time:T", title="wall time")
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    tooltip = [alt.Tooltip("run:N"), alt.Tooltip("step:Q"), alt.Tooltip("value:Q")]
    color = alt.Color("run:N", title="run")
    base = alt.Chart().encode(x=x_enc, color=color)
    # A one-point series (a metric logged once) draws no line: mark its points then.
    points = any(len(one.values) == 1 for one in series)
    raw = base.mark_line(opacity=0.3 if smoothing else 1.0, point=points).encode(
        y=alt.Y("value:Q", title=key, scale=scale), tooltip=tooltip
    )
    layers: list[Any] = [raw]
    if smoothing:
        layers.append(
            base.mark_line().encode(
                y=alt.Y("smoothed:Q", title=key, scale=scale),
                tooltip=[*tooltip, alt.Tooltip("smoothed:Q")],
            )
        )
    chart = alt.layer(*layers, data=inline_data(records)).properties(
        title=title, width=width, height=height
    )
    return chart, downsampled


class MetricChart:
    """A chart of metric histories, shown offline as Vega-Lite v5 (or PNG on request).

    ``static`` adds an SVG copy for exports when vl-convert is installed (see
    :mod:`nbtrack.ui._display`); live charts turn it off between redraws.
    """

    def __init__(
        self, chart: alt.TopLevelMixin, summary: str, fmt: str = "vega", static: bool = True
    ) -> None:
        if fmt not in ("vega", "png"):
            raise InvalidInputError(f"format must be 'vega' or 'png', got {fmt!r}")
        self.chart = chart
        self.summary = summary
        self.format = fmt
        self.static = static

    def to_dict(self) -> dict[str, Any]:
        """The Vega-Lite v5 spec."""
        from nbtrack.ui._display import to_v5

        return to_v5(self.chart.to_dict(validate=False))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        spec = self.chart.to_dict(validate=False)
        return chart_bundle(spec, self.summary, self.format, self.static)

    def show(self) -> None:
        """Display it (also works inside an ``ipywidgets.Output``)."""
        display_bundle(self._repr_mimebundle_())

    def _ipython_display_(self) -> None:
        self.show()  # display() rather than the bare bundle: it carries the output metadata

    def __repr__(self) -> str:
        return self.summary


def run_ids_of(runs: str | Run | Sequence[str | Run]) -> list[str]:
    """Run ids from ids, :class:`Run` objects or a mix."""
    items = [runs] if isinstance(runs, str | Run) else list(runs)
    return [item.info.run_id if isinstance(item, Run) else str(item) for item in items]


def run_labels(client: TrackingClient, run_ids: Sequence[str]) -> dict[str, str]:
    """A legend label per run: its name, with a short id where names repeat."""
    names = {run_id: client.queries.run(run_id).info.run_name for run_id in run_ids}
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    return {i: n if counts[n] == 1 else f"{n} ({i[:6]})" for i, n in names.items()}


def _series(client: TrackingClient, label: str, run_id: str, key: str, x: str) -> Series:
    if x == "time":
        return Series(label, *client.queries.metric_arrays(run_id, key))
    steps, values = client.queries.metric_steps_values(run_id, key)
    return Series(label, steps, None, values)


def metrics(
    runs: str | Run | Sequence[str | Run],
    keys: str | Sequence[str],
    x: str = "step",
    log: bool = False,
    smoothing: float = 0.0,
    max_points: int = MAX_POINTS,
    format: str = "vega",
    client: TrackingClient | None = None,
) -> MetricChart:
    """Line charts of metric histories, runs overlaid (colour = run), one chart per key.

    ``x`` is ``"step"`` or ``"time"``; ``log`` sets a log y scale (non-positive
    points are left out); ``smoothing`` is an EMA weight in [0, 1) drawn over
    the faint raw line; ``format="png"`` renders with vl-convert (``png`` extra).
    """
    client = client or TrackingClient()
    client.flush()
    ids = run_ids_of(runs)
    key_list = [keys] if isinstance(keys, str) else list(keys)
    if not ids or not key_list:
        raise InvalidInputError("metrics() needs at least one run and one metric key")
    labels = run_labels(client, ids)
    charts: list[Any] = []
    lines = []
    for key in key_list:
        series = [_series(client, labels[i], i, key, x) for i in ids]
        chart, downsampled = chart_for(key, series, x, log, smoothing, max_points)
        charts.append(chart)
        counts = ", ".join(f"{s.run}: {len(s.values)} points" for s in series)
        last = ", ".join(f"{s.run}={s.values[-1]:.6g}" for s in series if len(s.values))
        note = " (downsampled)" if downsampled else ""
        lines.append(f"{key}{note}: {counts}; last {last or 'none'}")
    top: alt.TopLevelMixin = charts[0] if len(charts) == 1 else alt.vconcat(*charts)
    return MetricChart(top, "\n".join(lines), format)
