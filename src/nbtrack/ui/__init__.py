"""In-notebook panels: run table, metric charts, comparison, live charts and the registry.

Built on ipywidgets and Altair (dependencies of nbtrack; static SVG/PNG copies
of charts need the ``png`` extra, vl-convert). ``import nbtrack`` never imports
this package.
"""

from __future__ import annotations

from nbtrack.ui._charts import MetricChart, metrics
from nbtrack.ui._compare import ComparePanel, compare
from nbtrack.ui._live import LiveChart, live
from nbtrack.ui._registry_panel import RegistryPanel, registry
from nbtrack.ui._runs_table import RunTable
from nbtrack.ui._runs_table import open_table as runs

__all__ = [
    "ComparePanel",
    "LiveChart",
    "MetricChart",
    "RegistryPanel",
    "RunTable",
    "compare",
    "live",
    "metrics",
    "registry",
    "runs",
]
