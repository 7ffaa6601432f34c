"""The compare panel: params side by side, metric summaries and charts, notebook diff.

:class:`ComparePanel` builds its content as escaped HTML sections and Altair
charts. In a notebook it shows them as plain outputs (HTML, then the charts,
then the notebook diff), which stay visible after a reload and in exports;
:attr:`ComparePanel.widget` packs the same into ipywidgets for layouts. A
terminal gets text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import altair as alt

from nbtrack._table import format_table
from nbtrack.client import TrackingClient
from nbtrack.entities import Run
from nbtrack.exceptions import InvalidInputError
from nbtrack.system_metrics import is_system_metric
from nbtrack.ui import _data, _notebook_diff, _system
from nbtrack.ui._charts import MetricChart, metrics, run_ids_of, run_labels
from nbtrack.ui._display import in_kernel, inline_data, show
from nbtrack.ui._html import Titled, esc, fmt_full, fmt_short, panel, table

MAX_AXES = 8


class CheckedRuns(Protocol):
    """A panel whose checked rows :func:`compare` defaults to (the run table)."""

    client: TrackingClient

    @property
    def selected_run_ids(self) -> list[str]:
        """The checked runs, in the order they were checked."""
        ...


#: The run table most recently opened (``ui.runs`` sets it): ``compare()`` with no runs
#: compares its checked rows. Kept here because the run table imports this module.
LAST_TABLE: CheckedRuns | None = None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _all_numbers(texts: Sequence[str]) -> bool:
    return all(_number(t) is not None for t in texts)


class ComparePanel:
    """Several runs side by side. ``metric``/``param`` pick the axes of the two summary charts."""

    def __init__(
        self,
        run_ids: Sequence[str | Run],
        client: TrackingClient | None = None,
        metric: str | None = None,
        param: str | None = None,
    ) -> None:
        self.client = client or TrackingClient()
        self.run_ids = run_ids_of(run_ids)
        if not self.run_ids:
            raise InvalidInputError("compare needs at least one run")
        self.runs = [self.client.get_run(i) for i in self.run_ids]
        self.labels = run_labels(self.client, self.run_ids)
        self.extremes = {i: _data.metric_extremes(self.client, i) for i in self.run_ids}
        keys = {k for found in self.extremes.values() for k in found}
        # system/* points (the sampler's) go to their own folded section
        self.metric_keys = sorted(k for k in keys if not is_system_metric(k))
        self.system_keys = sorted(k for k in keys if is_system_metric(k))
        self.param_keys = sorted({k for r in self.runs for k in r.data.params})
        self.differing = [k for k in self.param_keys if len(set(self._params(k))) > 1]
        self.metric = metric or (self.metric_keys[0] if self.metric_keys else None)
        numeric = [k for k in self.differing if _all_numbers(self._params(k))]
        self.param = param or next(iter(numeric or self.differing or self.param_keys), None)

    def _params(self, key: str) -> list[str]:
        return [r.data.params.get(key, "") for r in self.runs]

    # -- sections -----------------------------------------------------------------------

    def params_html(self) -> str:
        """Params table: differing rows highlighted, equal ones folded in ``<details>``."""
        header = ["param", *(self.labels[i] for i in self.run_ids)]
        differ = [[k, *self._params(k)] for k in self.differing]
        equal = [[k, *self._params(k)] for k in self.param_keys if k not in self.differing]
        html = "<h4>Params</h4>"
        html += (
            table(header, differ, ["differs"] * len(differ), ' class="nbtrack-params-differ"')
            if differ
            else "<p>no param differs</p>"
        )
        if equal:
            html += (
                f"<details><summary>{len(equal)} equal params</summary>"
                f"{table(header, equal)}</details>"
            )
        return html

    def metrics_rows(self, keys: Sequence[str] | None = None) -> list[list[str]]:
        """``[key, last/min/max of run 1, ...]`` per metric (default: the run's own), each
        value in 4 significant digits."""
        return [
            [cell.text if isinstance(cell, Titled) else cell for cell in row]
            for row in self._metric_cells(keys)
        ]

    def _metric_cells(self, keys: Sequence[str] | None = None) -> list[list[str | Titled]]:
        """:meth:`metrics_rows` with the full values on hover."""
        rows: list[list[str | Titled]] = []
        for key in self.metric_keys if keys is None else keys:
            row: list[str | Titled] = [key]
            for run_id in self.run_ids:
                found = self.extremes[run_id].get(key)
                if not found:
                    row.append("")
                    continue
                row.append(
                    Titled(
                        " / ".join(fmt_short(v) for v in found),
                        " / ".join(fmt_full(v) for v in found),
                    )
                )
            rows.append(row)
        return rows

    def metrics_html(self) -> str:
        """Last / min / max of each metric per run."""
        header = ["metric (last / min / max)", *(self.labels[i] for i in self.run_ids)]
        return "<h4>Metrics</h4>" + table(header, self._metric_cells())

    def system_chart(self) -> MetricChart | None:
        """CPU, memory and GPU histories of the runs (the headline ``system/`` keys)."""
        return _system.chart(self.client, self.run_ids, self.system_keys)

    def system_html(self, chart: bool = True) -> str:
        """The "System" section, folded: last / min / max of each ``system/`` metric.

        With ``chart`` and vl-convert installed, an SVG of :meth:`system_chart`
        is folded in too (static, so it survives exports).
        """
        if not self.system_keys:
            return ""
        header = ["system metric (last / min / max)", *(self.labels[i] for i in self.run_ids)]
        body = table(header, self._metric_cells(self.system_keys))
        if chart:
            body += _system.svg(self.system_chart())
        return _system.folded(len(self.system_keys), body)

    def provenance_html(self) -> str:
        """For each metric and run, the cells that logged it (execution count, source excerpt)."""
        items = []
        for key in self.metric_keys:  # not system/*: every cell would be listed
            for run_id in self.run_ids:
                for prov in self.client.get_metric_provenance(run_id, key):
                    cell = prov.cell
                    count = cell.execution_count if cell.execution_count is not None else " "
                    excerpt = (cell.source.strip().splitlines() or [""])[0][:80]
                    link = (
                        f'<a class="nbtrack-cell-link" data-nbtrack-cell-id="{esc(cell.cell_id)}"'
                        f' data-nbtrack-run-id="{esc(run_id)}">In [{esc(count)}]</a>'
                        if cell.cell_id
                        else f"In [{esc(count)}]"
                    )
                    items.append(
                        f"<li><b>{esc(key)}</b> in {esc(self.labels[run_id])}: {link} "
                        f"steps {prov.first_step}-{prov.last_step} "
                        f"<code>{esc(excerpt)}</code></li>"
                    )
        if not items:  # runs logged from plain Python (the client): no cells to name
            return ""
        return "<h4>Cell provenance</h4><ul>" + "".join(items) + "</ul>"

    def notebook_diff(self) -> list[_notebook_diff.CellChange] | None:
        """Cell changes from the first run's notebook to the second's (None for one run)."""
        if len(self.run_ids) < 2:
            return None
        old, _ = _notebook_diff.load_cells(self.client, self.run_ids[0])
        new, _ = _notebook_diff.load_cells(self.client, self.run_ids[1])
        return _notebook_diff.diff_cells(old, new)

    def diff_html(self) -> str:
        """The notebook diff section."""
        changes = self.notebook_diff()
        if changes is None:
            return "<p>select two runs to diff their notebooks</p>"
        labels = (self.labels[self.run_ids[0]], self.labels[self.run_ids[1]])
        return _notebook_diff.diff_html(changes, labels)

    def html(self) -> str:
        """Every HTML section in one escaped panel."""
        return panel(
            self.params_html(),
            self.metrics_html(),
            self.system_html(),
            self.provenance_html(),
            self.diff_html(),
        )

    # -- charts -------------------------------------------------------------------------

    def overlay_chart(self) -> MetricChart | None:
        """Histories of every metric, runs overlaid (one chart per metric)."""
        if not self.metric_keys:
            return None
        return metrics(self.run_ids, self.metric_keys, client=self.client)

    def parallel_chart(self) -> MetricChart | None:
        """Parallel coordinates: differing params (numeric or by rank) → the chosen metric."""
        if self.metric is None:
            return None
        axes = (self.differing or self.param_keys)[:MAX_AXES]
        records: list[dict[str, Any]] = []
        columns = {k: self._params(k) for k in axes}
        columns[self.metric] = [self._last(i, self.metric) for i in self.run_ids]
        for axis, texts in columns.items():
            numbers = [_number(t) for t in texts]
            if all(n is not None for n in numbers):
                values = [n for n in numbers if n is not None]
            else:
                order = sorted(set(texts))
                values = [float(order.index(t)) for t in texts]
            low, high = min(values), max(values)
            for run_id, value, text in zip(self.run_ids, values, texts, strict=True):
                norm = 0.5 if high == low else (value - low) / (high - low)
                records.append({"run": self.labels[run_id], "axis": axis, "y": norm, "raw": text})
        chart = (
            alt.Chart(inline_data(records))
            .mark_line(point=True)
            .encode(
                x=alt.X("axis:N", sort=list(columns), title=None),
                y=alt.Y("y:Q", title="normalised", scale=alt.Scale(domain=[0, 1])),
                color=alt.Color("run:N"),
                detail="run:N",
                tooltip=[alt.Tooltip("run:N"), alt.Tooltip("axis:N"), alt.Tooltip("raw:N")],
            )
            .properties(title=f"params → {self.metric}", width=480, height=240)
        )
        return MetricChart(chart, f"parallel coordinates: {', '.join(columns)}")

    def _last(self, run_id: str, key: str) -> str:
        found = self.extremes[run_id].get(key)
        return "" if not found or found[0] is None else repr(found[0])

    def scatter_chart(self) -> MetricChart | None:
        """One param against one metric, a point per run."""
        if self.metric is None or self.param is None:
            return None
        texts = self._params(self.param)
        numeric = all(_number(t) is not None for t in texts)
        records = [
            {
                "run": self.labels[i],
                "param": _number(t) if numeric else t,
                "metric": self.extremes[i].get(self.metric, (None,))[0],
            }
            for i, t in zip(self.run_ids, texts, strict=True)
        ]
        chart = (
            alt.Chart(inline_data(records))
            .mark_point(filled=True, size=80)
            .encode(
                x=alt.X("param:Q" if numeric else "param:N", title=self.param),
                y=alt.Y("metric:Q", title=self.metric, scale=alt.Scale(zero=False)),
                color=alt.Color("run:N"),
                tooltip=[
                    alt.Tooltip("run:N"),
                    alt.Tooltip("param:Q" if numeric else "param:N"),
                    alt.Tooltip("metric:Q"),
                ],
            )
            .properties(title=f"{self.param} vs {self.metric}", width=320, height=240)
        )
        return MetricChart(chart, f"scatter {self.param} vs {self.metric}")

    def charts(self) -> list[MetricChart]:
        """The overlay, parallel-coordinates and scatter charts that apply."""
        found = [self.overlay_chart(), self.parallel_chart(), self.scatter_chart()]
        return [c for c in found if c is not None]

    # -- display ------------------------------------------------------------------------

    def text(self, diff: bool = True) -> str:
        """Params, metrics and (with ``diff``) the notebook diff as plain text (terminals)."""
        header = ["", *(self.labels[i] for i in self.run_ids)]
        differ = [[k, *self._params(k)] for k in self.differing]
        parts = [
            "params that differ:",
            format_table(header, differ, indent=2) if differ else "  none",
            f"  ({len(self.param_keys) - len(self.differing)} equal params)",
            "metrics (last / min / max):",
            format_table(header, self.metrics_rows(), indent=2),
        ]
        if self.system_keys:
            parts += [
                "system metrics (last / min / max):",
                format_table(header, self.metrics_rows(self.system_keys), indent=2),
            ]
        changes = self.notebook_diff() if diff else None
        if changes is not None:
            parts += ["notebook diff:", _notebook_diff.diff_text(changes)]
        return "\n".join(parts)

    def __repr__(self) -> str:
        return self.text()

    def _sections(self, system_chart: bool = True) -> tuple[str, str]:
        """The panel's HTML above the charts (params, metrics, system, provenance) and below."""
        head = panel(
            self.params_html(),
            self.metrics_html(),
            self.system_html(chart=system_chart),
            self.provenance_html(),
        )
        return head, panel(self.diff_html())

    @property
    def widget(self) -> Any:
        """The panel as ipywidgets: HTML sections and an ``Output`` holding the charts."""
        import ipywidgets as w  # type: ignore[import-untyped]

        head, diff = self._sections(system_chart=False)
        out = w.Output()
        with out:
            for chart in self.charts():
                chart.show()
        parts = [w.HTML(value=head), out]
        system = self.system_chart()
        if system is not None:  # a live chart, in an accordion folded by default
            system_out = w.Output()
            with system_out:
                system.show()
            folded = w.Accordion(children=[system_out], selected_index=None)
            folded.set_title(0, "System charts")
            folded.add_class("nbtrack-system")
            parts.append(folded)
        root = w.VBox([*parts, w.HTML(value=diff)])
        root.add_class("nbtrack-compare")
        return root

    def _ipython_display_(self) -> None:
        if not in_kernel():
            print(self.text())
            for chart in self.charts():
                chart.show()
            return
        # Plain outputs, not a widget: the panel has no controls, and static outputs
        # survive a reload without a kernel, need no widget state in nbconvert exports,
        # and avoid nbclient's Output-widget capture (it stalled headless runs for its
        # whole timeout now and then).
        head, diff = self._sections()
        show({"text/html": _wrap(head), "text/plain": self.text(diff=False)}, raw=True)
        for chart in self.charts():
            chart.show()
        changes = self.notebook_diff()
        if changes is not None:
            text = _notebook_diff.diff_text(changes)
            show({"text/html": _wrap(diff), "text/plain": text}, raw=True)


def _wrap(html: str) -> str:
    return f'<div class="nbtrack-compare">{html}</div>'


def compare(
    run_ids: Sequence[str | Run] | None = None,
    metric: str | None = None,
    param: str | None = None,
    client: TrackingClient | None = None,
) -> ComparePanel:
    """Compare runs (default: the rows checked in the last run table)."""
    if run_ids is None:
        last = LAST_TABLE
        if last is None or not last.selected_run_ids:
            raise InvalidInputError(
                "no runs to compare: pass run ids, or check rows in a run table first"
            )
        run_ids = last.selected_run_ids
        client = client or last.client
    return ComparePanel(run_ids, client=client, metric=metric, param=param)
