"""What the system metrics sampler costs (budget: <= 1% of one core at the 10 s default).

Usage::

    python bench/bench_system_metrics.py            # 200 samples, 5 repetitions
    python bench/bench_system_metrics.py --quick    # 50 samples, 3 repetitions

In one process, against a store in a fresh temp directory, with a run
active: a :class:`~nbtrack.system_metrics.SystemMetricsMonitor` with the
default collectors (CPU and memory, disk, network, this process, GPUs where
NVML finds some) takes N samples, each logged as one point per metric, back
to back, and the writer is flushed. CPU time of the whole process
(``time.process_time``: the sampling, the queueing and the writer thread's
inserts) over N is the cost of one sample; at one sample per interval the
share of a core is ``cost / interval``. Figures are medians over the
repetitions. Also timed: the cell hook's part (:func:`cell_ended` with a
monitor running: a clock check and at most an ``Event.set``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import nbtrack
from nbtrack.system_metrics import _monitor, _settings


def sample_cost(samples: int) -> tuple[float, int]:
    """CPU seconds per sample (sampling + logging + writing) and the points per sample."""
    run = nbtrack.active_run()
    assert run is not None
    monitor = _monitor.SystemMetricsMonitor(run.info.run_id, run.client)
    from nbtrack.system_metrics._collectors import default_collectors

    monitor._collectors = default_collectors()
    monitor._sample()  # first readings (psutil's CPU baseline)
    monitor._publish()
    run.client.flush()
    before = monitor.points_logged
    start = time.process_time()
    for _ in range(samples):
        monitor._sample()
        monitor._publish()
    run.client.flush()
    cost = (time.process_time() - start) / samples
    return cost, (monitor.points_logged - before) // samples


def hook_cost(calls: int) -> float:
    """Seconds per ``cell_ended()`` call with a running monitor, its last sample fresh."""
    start = time.perf_counter()
    for _ in range(calls):
        _monitor.cell_ended()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    samples, reps = (50, 3) if args.quick else (200, 5)
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        nbtrack.set_tracking_uri(Path(tmp) / ".nbtrack")
        costs, hooks = [], []
        with nbtrack.start_run(log_system_metrics=True):
            points = 0
            for _ in range(reps):
                cost, points = sample_cost(samples)
                costs.append(cost)
                hooks.append(hook_cost(100_000))
        cost = statistics.median(costs)
        hook = statistics.median(hooks)
        share = cost / _settings.DEFAULT_INTERVAL * 100
        cell_share = cost / _settings.MIN_CELL_GAP * 100
        print(f"load average at the end: {os.getloadavg()[0]:.2f} (2-core shared machine)")
        print(
            f"one sample ({points} points): {cost * 1e3:.2f} ms CPU (median of {reps} x {samples})"
        )
        verdict = "PASS" if share <= 1.0 else "MISS"
        print(f"default interval 10 s: {share:.3f}% of one core (goal <= 1%) {verdict}")
        print(f"worst case in a notebook, a sample every second (cells >= 1 s): {cell_share:.2f}%")
        print(f"cell hook with a monitor running: {hook * 1e9:.0f} ns per cell")


if __name__ == "__main__":
    main()
