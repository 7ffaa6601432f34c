"""The sampler: one daemon thread per monitored run, stopped when the run ends.

Every ``interval`` seconds (and, in a notebook, at the end of a cell that
finishes at least a second after the last sample) the thread reads the
collectors and logs one point per metric under ``system/``, at the next
step. The cell hook only checks the clock and sets an event (:func:`cell_ended`);
the reading and logging happen on the thread. A failure to log (the run was
deleted, the store went away) is logged once and stops the monitor; the
run's own logging is never affected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nbtrack.system_metrics import _settings

if TYPE_CHECKING:
    from nbtrack.client import TrackingClient
    from nbtrack.system_metrics._collectors import Collector

log = logging.getLogger("nbtrack.system_metrics")

PREFIX = "system/"
#: How long ending a run waits for the sampler's last point.
STOP_TIMEOUT = 10.0

_monitors: dict[str, SystemMetricsMonitor] = {}
_lock = threading.Lock()


class SystemMetricsMonitor:
    """Samples system metrics into a run from a daemon thread (MLflow's class name).

    ``sampling_interval``, ``samples_before_logging`` and ``node_id`` default
    to the settings (:mod:`nbtrack.system_metrics`). With ``resume_logging``,
    steps continue after the run's last ``system/`` point.
    """

    def __init__(
        self,
        run_id: str,
        client: TrackingClient | None = None,
        sampling_interval: float | None = None,
        samples_before_logging: int | None = None,
        resume_logging: bool = False,
        node_id: str | None = None,
        collectors: Sequence[Collector] | None = None,
    ) -> None:
        from nbtrack.client import TrackingClient

        self.run_id = run_id
        self.client = client or TrackingClient()
        self.interval = (
            _settings.check_interval(sampling_interval, "sampling_interval")
            if sampling_interval is not None
            else _settings.sampling_interval()
        )
        self.samples_before_logging = samples_before_logging or _settings.samples_before_logging()
        node = node_id or _settings.node_id()
        self.prefix = PREFIX + (f"{node}/" if node else "")
        self._collectors = collectors
        self.step = self._next_step() if resume_logging else 0
        self.samples_taken = 0
        self.points_logged = 0
        self._pending: defaultdict[str, list[float]] = defaultdict(list)
        self._wake = threading.Event()
        self._stopping = False
        self._last_sample = time.monotonic()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _next_step(self) -> int:
        history = self.client.get_metric_history(
            self.run_id, self.prefix + "cpu_utilization_percentage"
        )
        return max((m.step for m in history), default=-1) + 1

    @property
    def running(self) -> bool:
        """Whether the sampler thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (collectors are set up here: psutil's first readings)."""
        if self._thread is not None:
            return
        if self._collectors is None:
            from nbtrack.system_metrics._collectors import default_collectors

            self._collectors = default_collectors()
        self._last_sample = time.monotonic()
        self._thread = threading.Thread(
            target=self._loop, name=f"nbtrack-system-metrics-{self.run_id[:8]}", daemon=True
        )
        self._thread.start()

    def request_sample(self) -> None:
        """Ask for a sample now if the last one is at least a second old (cheap: no I/O)."""
        if time.monotonic() - self._last_sample >= _settings.MIN_CELL_GAP:
            self._wake.set()

    def finish(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the thread after a last sample (if the previous one is a second old or more)."""
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("nbtrack: system metrics sampler of run %s did not stop", self.run_id)

    # -- the thread ---------------------------------------------------------------------

    def _loop(self) -> None:
        due = time.monotonic() + self.interval
        try:
            while True:
                woken = self._wake.wait(max(0.0, due - time.monotonic()))
                self._wake.clear()
                now = time.monotonic()
                fresh = now - self._last_sample < _settings.MIN_CELL_GAP
                if self._stopping:
                    if not fresh:
                        self._sample()
                    self._publish(final=True)
                    return
                if woken and fresh:
                    continue  # a cell ended right after a sample
                if not self._sample_and_publish():
                    return
                due = time.monotonic() + self.interval
        except Exception as exc:  # the thread must end quietly; the run goes on without it
            self.error = exc
            log.warning(
                "nbtrack: system metrics of run %s stopped: %s", self.run_id, exc, exc_info=True
            )

    def _sample(self) -> None:
        for collector in self._collectors or ():
            try:
                values = collector.sample()
            except Exception as exc:  # one broken source must not stop the others
                log.debug("nbtrack: %r failed: %s", collector, exc)
                continue
            for key, value in values.items():
                self._pending[key].append(value)
        self.samples_taken += 1
        self._last_sample = time.monotonic()

    def _sample_and_publish(self) -> bool:
        """One sample (and a logged point when enough are in); False once the run ended."""
        if self._run_ended():
            return False
        self._sample()
        if self.samples_taken % self.samples_before_logging == 0:
            self._publish()
        return True

    def _run_ended(self) -> bool:
        # Read without flushing (a flush would wait on the writer behind the user's logging).
        return self.client.run_status(self.run_id).is_terminal

    def _publish(self, final: bool = False) -> None:
        if not self._pending:
            return
        timestamp = time.time_ns() // 1_000_000
        points = [
            (self.prefix + key, round(sum(values) / len(values), 2), timestamp, self.step)
            for key, values in self._pending.items()
            if values
        ]
        self._pending.clear()
        self.client.log_batch(self.run_id, metrics=points)
        self.step += 1
        self.points_logged += len(points)
        if final:
            log.debug("nbtrack: system metrics of run %s: last step %d", self.run_id, self.step)


# -- one monitor per run (fluent.start_run starts it, and stops it at end_run) ----------


def start_for_run(client: TrackingClient, run_id: str, *, resume: bool) -> SystemMetricsMonitor:
    """Start sampling into ``run_id``; stopped by :func:`stop_for_run` when the run ends."""
    with _lock:
        existing = _monitors.get(run_id)
        if existing is not None and existing.running:
            return existing
        monitor = SystemMetricsMonitor(run_id, client, resume_logging=resume)
        monitor.start()
        _monitors[run_id] = monitor
    return monitor


def stop_for_run(run_id: str) -> None:
    """Stop the run's sampler, if any, after its last point."""
    with _lock:
        monitor = _monitors.pop(run_id, None)
    if monitor is not None:
        monitor.finish()


def monitor_of(run_id: str) -> SystemMetricsMonitor | None:
    """The sampler of a run started by ``start_run``, if it has one."""
    return _monitors.get(run_id)


def cell_ended() -> None:
    """The notebook's cell hook: a sample soon if the last is a second old (no I/O here)."""
    for monitor in list(_monitors.values()):
        monitor.request_sample()
