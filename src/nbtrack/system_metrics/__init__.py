"""System metrics: CPU, memory, disk, network, this process and NVIDIA GPUs beside a run.

MLflow's switches and names::

    nbtrack.enable_system_metrics_logging()       # every run from now on
    with nbtrack.start_run(log_system_metrics=True):   # or one run
        ...

``MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING=true`` (or ``NBTRACK_...``) does the same
from the environment; in a notebook, ``%track start --system-metrics``. Points
are logged every :func:`set_system_metrics_sampling_interval` seconds (default
10) under ``system/`` (``system/cpu_utilization_percentage``,
``system/process_memory_rss_megabytes``, ``system/gpu_0_utilization_percentage``,
...): the prefix is what panels use to show them apart from the run's own
metrics. Uses psutil (a dependency); GPUs need ``nvidia-ml-py`` (the ``gpu`` extra).
"""

from __future__ import annotations

from nbtrack.system_metrics import _settings
from nbtrack.system_metrics._monitor import PREFIX, SystemMetricsMonitor

__all__ = [
    "PREFIX",
    "SystemMetricsMonitor",
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "is_system_metric",
    "set_system_metrics_node_id",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
]


def enable_system_metrics_logging() -> None:
    """Log system metrics for every run started from now on.

    ``start_run(log_system_metrics=False)`` still opts a run out.
    """
    _settings.set_enabled(True)


def disable_system_metrics_logging() -> None:
    """Stop logging system metrics for runs started from now on (runs may still opt in)."""
    _settings.set_enabled(False)


def set_system_metrics_sampling_interval(interval: float | None) -> None:
    """Seconds between samples for runs started from now on (None: the default, 10)."""
    _settings.set_interval(interval)


def set_system_metrics_samples_before_logging(samples: int | None) -> None:
    """Average this many samples into each logged point (None: 1, every sample)."""
    _settings.set_samples(samples)


def set_system_metrics_node_id(node_id: str | None) -> None:
    """Put a machine's name in the keys (``system/<node_id>/...``) for multi-node training."""
    _settings.set_node(node_id)


def is_system_metric(key: str) -> bool:
    """Whether a metric key is one the sampler logs (``system/...``)."""
    return key.startswith(PREFIX)
