"""The "System" section of panels: ``system/*`` metrics, folded by default.

The sampler (:mod:`nbtrack.system_metrics`) logs a dozen or more keys per
run; panels keep them out of the run's own metrics and show them in a
``<details>`` block: a last / min / max table and a chart of the headline
keys (CPU, memory, GPU), as a static SVG when vl-convert is installed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from nbtrack.client import TrackingClient
from nbtrack.ui._charts import MetricChart, metrics
from nbtrack.ui._display import has_vl_convert, svg_text
from nbtrack.ui._html import esc

log = logging.getLogger("nbtrack.ui")

#: Keys charted (the table lists every key): what a notebook user looks at first.
_HEADLINE = re.compile(
    r"^system/(?:.+/)?(cpu_utilization_percentage|system_memory_usage_percentage"
    r"|process_memory_rss_megabytes|process_cpu_percentage"
    r"|gpu_\d+_utilization_percentage|gpu_\d+_memory_usage_megabytes)$"
)


def headline_keys(keys: Sequence[str]) -> list[str]:
    """The system keys worth a chart, in the order given."""
    return [k for k in keys if _HEADLINE.match(k)]


def chart(
    client: TrackingClient, run_ids: Sequence[str], keys: Sequence[str]
) -> MetricChart | None:
    """Histories of the headline system keys, runs overlaid; None when there are none."""
    shown = headline_keys(keys)
    if not shown:
        return None
    return metrics(list(run_ids), shown, client=client)


def svg(found: MetricChart | None) -> str:
    """The chart as inline SVG (vl-convert escapes the text it draws); "" without it."""
    if found is None or not has_vl_convert():
        return ""
    return f'<div class="nbtrack-system-chart">{svg_text(found.to_dict())}</div>'


def folded(count: int, body: str) -> str:
    """The section, closed until clicked."""
    return (
        f'<details class="nbtrack-system"><summary>System ({esc(count)} metrics)</summary>'
        f"{body}</details>"
    )
