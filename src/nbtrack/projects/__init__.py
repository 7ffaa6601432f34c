"""Notebooks as reproducible, parameterised, tracked jobs.

- :func:`run`: execute a notebook headless in a fresh kernel, with injected
  parameters, as one tracked run (``nbtrack run``).
- :func:`reproduce`: execute a run's notebook snapshot again with its
  parameters and compare the results (``nbtrack reproduce``).
- :func:`sweep`: one child run per parameter combination, under a parent run,
  on a local process pool or a Dask cluster (``nbtrack sweep``);
  :func:`summarize` reads a sweep back, best first.
"""

from __future__ import annotations

from nbtrack.projects._execute import CellFailure
from nbtrack.projects._executors import ChildResult
from nbtrack.projects._reproduce import (
    EnvironmentDiff,
    MetricComparison,
    ReproduceReport,
    execution_order_problems,
    reproduce,
)
from nbtrack.projects._run import NotebookExecutionError, RunInterrupted, run
from nbtrack.projects._space import Distribution, combinations
from nbtrack.projects._sweep import SweepInterrupted, SweepRow, SweepSummary, summarize, sweep

__all__ = [
    "CellFailure",
    "ChildResult",
    "Distribution",
    "EnvironmentDiff",
    "MetricComparison",
    "NotebookExecutionError",
    "ReproduceReport",
    "RunInterrupted",
    "SweepInterrupted",
    "SweepRow",
    "SweepSummary",
    "combinations",
    "execution_order_problems",
    "reproduce",
    "run",
    "summarize",
    "sweep",
]
