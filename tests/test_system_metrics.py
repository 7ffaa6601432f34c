"""System metrics: real sampling of this machine into a real store, stopped with the run."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

import nbtrack
from nbtrack.exceptions import InvalidInputError
from nbtrack.system_metrics import _collectors, _monitor, _settings

ALL_VARS = (
    _settings.ENABLE_VARS + _settings.INTERVAL_VARS + _settings.SAMPLES_VARS + _settings.NODE_VARS
)
MACHINE_KEYS = {
    "system/cpu_utilization_percentage",
    "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage",
    "system/disk_usage_percentage",
    "system/disk_usage_megabytes",
    "system/disk_available_megabytes",
    "system/network_receive_megabytes",
    "system/network_transmit_megabytes",
    "system/process_cpu_percentage",
    "system/process_memory_rss_megabytes",
    "system/process_memory_vms_megabytes",
    "system/process_memory_percentage",
    "system/process_threads",
    "system/process_open_files",
}


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No system metrics variable leaks in from the environment or out of a test."""
    for name in ALL_VARS:
        monkeypatch.setenv(name, "x")  # recorded, so the undo restores the original state
        monkeypatch.delenv(name)
    yield
    assert not _monitor._monitors, "a sampler outlived its test"


def _sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("nbtrack-system-metrics")]


def _wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_a_run_samples_the_machine_and_this_process(client: nbtrack.TrackingClient) -> None:
    nbtrack.set_system_metrics_sampling_interval(0.2)
    with nbtrack.start_run(log_system_metrics=True) as run:
        monitor = _monitor.monitor_of(run.info.run_id)
        assert monitor is not None
        assert monitor.running
        _wait_for(lambda: monitor.points_logged >= 2 * len(MACHINE_KEYS))
        blob = bytearray(50_000_000)  # the kernel's RSS must show it
        _wait_for(lambda: monitor.samples_taken >= 4)
    assert not monitor.running
    assert not _sampler_threads()
    data = client.get_run(run.info.run_id).data.metrics
    assert data.keys() >= MACHINE_KEYS
    assert 0 < data["system/system_memory_usage_percentage"] <= 100
    assert 0 <= data["system/disk_usage_percentage"] <= 100
    assert data["system/disk_available_megabytes"] > 0
    assert 0 <= data["system/cpu_utilization_percentage"] <= 100
    assert data["system/process_memory_rss_megabytes"] > 50 + 10
    assert data["system/process_threads"] >= 2  # this thread and the sampler
    assert data["system/process_open_files"] > 0
    assert data["system/network_receive_megabytes"] >= 0
    history = client.get_metric_history(run.info.run_id, "system/cpu_utilization_percentage")
    steps = [m.step for m in history]
    assert steps == list(range(len(steps)))
    assert len(steps) >= 2
    del blob


def test_off_by_default_and_switched_on_globally(client: nbtrack.TrackingClient) -> None:
    with nbtrack.start_run() as run:
        assert _monitor.monitor_of(run.info.run_id) is None
    nbtrack.enable_system_metrics_logging()
    with nbtrack.start_run() as run:
        assert _monitor.monitor_of(run.info.run_id) is not None
    with nbtrack.start_run(log_system_metrics=False) as run:  # a run may still opt out
        assert _monitor.monitor_of(run.info.run_id) is None
    nbtrack.disable_system_metrics_logging()
    with nbtrack.start_run() as run:
        assert _monitor.monitor_of(run.info.run_id) is None


@pytest.mark.parametrize("name", _settings.ENABLE_VARS)
def test_environment_variables_switch_it_on(
    name: str, monkeypatch: pytest.MonkeyPatch, client: nbtrack.TrackingClient
) -> None:
    monkeypatch.setenv(name, "true")
    with nbtrack.start_run() as run:
        assert _monitor.monitor_of(run.info.run_id) is not None
    monkeypatch.setenv(name, "maybe")
    with pytest.raises(InvalidInputError, match=f"{name}='maybe'"):
        nbtrack.start_run()
    assert nbtrack.active_run() is None  # refused before any run was created
    assert len(client.search_runs(["0"])) == 1


def test_a_short_run_still_gets_one_point_when_it_ends(client: nbtrack.TrackingClient) -> None:
    """Default interval (10 s): a run of 1.2 s logs its last sample at the end."""
    with nbtrack.start_run(log_system_metrics=True) as run:
        time.sleep(1.2)
    points = client.get_metric_history(run.info.run_id, "system/process_memory_rss_megabytes")
    assert [p.step for p in points] == [0]


def test_interval_and_samples_settings(client: nbtrack.TrackingClient) -> None:
    with pytest.raises(InvalidInputError, match="sampling interval"):
        nbtrack.set_system_metrics_sampling_interval(0)
    with pytest.raises(InvalidInputError, match="whole number"):
        nbtrack.set_system_metrics_samples_before_logging(0)
    nbtrack.set_system_metrics_sampling_interval(0.1)
    nbtrack.set_system_metrics_samples_before_logging(3)
    nbtrack.set_system_metrics_node_id("node_0")
    with nbtrack.start_run(log_system_metrics=True) as run:
        monitor = _monitor.monitor_of(run.info.run_id)
        assert monitor is not None
        _wait_for(lambda: monitor.samples_taken >= 7)
        taken = monitor.samples_taken
    logged = client.get_metric_history(run.info.run_id, "system/node_0/process_threads")
    # every three samples make one point (plus the partial last one at the end)
    assert len(logged) in (taken // 3, taken // 3 + 1)
    nbtrack.set_system_metrics_sampling_interval(None)
    assert _settings.sampling_interval() == _settings.DEFAULT_INTERVAL


def test_resumed_run_continues_the_steps(client: nbtrack.TrackingClient) -> None:
    nbtrack.set_system_metrics_sampling_interval(0.1)
    with nbtrack.start_run(log_system_metrics=True) as run:
        monitor = _monitor.monitor_of(run.info.run_id)
        assert monitor is not None
        _wait_for(lambda: monitor.step >= 2)
    key = "system/cpu_utilization_percentage"
    first = [m.step for m in client.get_metric_history(run.info.run_id, key)]
    with nbtrack.start_run(run_id=run.info.run_id, log_system_metrics=True):
        monitor = _monitor.monitor_of(run.info.run_id)
        assert monitor is not None
        assert monitor.step == max(first) + 1
        _wait_for(lambda: monitor.step >= max(first) + 3)
    steps = [m.step for m in client.get_metric_history(run.info.run_id, key)]
    assert steps == list(range(len(steps)))


def test_a_deleted_run_stops_the_sampler_and_nothing_else(
    client: nbtrack.TrackingClient, caplog: pytest.LogCaptureFixture
) -> None:
    nbtrack.set_system_metrics_sampling_interval(0.1)
    run = nbtrack.start_run(log_system_metrics=True)
    monitor = _monitor.monitor_of(run.info.run_id)
    assert monitor is not None
    _wait_for(lambda: monitor.points_logged > 0)
    with caplog.at_level(logging.WARNING, "nbtrack.system_metrics"):
        client.delete_run(run.info.run_id)
        _wait_for(lambda: not monitor.running)
    assert isinstance(monitor.error, InvalidInputError)
    assert "deleted" in caplog.text
    nbtrack.end_run()  # ending the run stops nothing more and raises nothing
    assert not _sampler_threads()


def test_an_ended_run_stops_a_sampler_that_was_not_told(client: nbtrack.TrackingClient) -> None:
    """A run ended by another client (another process, the CLI) stops its sampler too."""
    run = client.create_run("0")
    monitor = _monitor.SystemMetricsMonitor(run.info.run_id, client, sampling_interval=0.1)
    monitor.start()
    _wait_for(lambda: monitor.points_logged > 0)
    client.set_terminated(run.info.run_id)
    client.flush()
    _wait_for(lambda: not monitor.running)
    assert monitor.error is None


def _nvml_gpus() -> int:
    try:
        gpu = _collectors.Gpu()
    except RuntimeError:
        return 0
    gpu.close()
    return len(gpu.handles)


def test_gpu_collector_without_a_gpu_fails_cleanly() -> None:
    """NVML missing or finding no GPU: a clear reason, and the default set goes on without it."""
    if _nvml_gpus() == 0:
        with pytest.raises(RuntimeError, match="NVML"):
            _collectors.Gpu()
        names = [type(c).__name__ for c in _collectors.default_collectors()]
        assert names == ["CpuMemory", "Disk", "Network", "Process"]
    else:  # a machine with an NVIDIA GPU
        gpu = _collectors.Gpu()
        try:
            values = gpu.sample()
        finally:
            gpu.close()
        assert 0 <= values["gpu_0_utilization_percentage"] <= 100
        assert values["gpu_0_memory_usage_megabytes"] > 0


@pytest.mark.skipif(_nvml_gpus() == 0, reason="needs NVML and an NVIDIA GPU")
def test_gpu_metrics_are_logged_where_a_gpu_is(client: nbtrack.TrackingClient) -> None:
    nbtrack.set_system_metrics_sampling_interval(0.2)
    with nbtrack.start_run(log_system_metrics=True) as run:
        time.sleep(1.0)
    metrics = client.get_run(run.info.run_id).data.metrics
    assert "system/gpu_0_utilization_percentage" in metrics
    assert "system/gpu_0_memory_usage_megabytes" in metrics


def test_magic_starts_a_sampled_run_and_cells_trigger_samples(
    ip: object, client: nbtrack.TrackingClient
) -> None:
    """``%track start --system-metrics``: 10 s interval, yet each cell >= 1 s later samples."""
    shell = ip
    result = shell.run_cell("%track start --system-metrics", store_history=True)  # type: ignore[attr-defined]
    assert result.success, result.error_in_exec
    run = nbtrack.active_run()
    assert run is not None
    monitor = _monitor.monitor_of(run.info.run_id)
    assert monitor is not None
    assert monitor.interval == 10.0
    for _ in range(2):
        result = shell.run_cell("import time; time.sleep(1.05)", store_history=True)  # type: ignore[attr-defined]
        assert result.success
        _wait_for(lambda n=monitor.samples_taken: monitor.samples_taken > n, timeout=5)
    assert monitor.samples_taken == 2
    shell.run_cell("x = 1", store_history=True)  # type: ignore[attr-defined]  # < 1 s: no sample
    time.sleep(0.3)
    assert monitor.samples_taken == 2
    shell.run_cell("%track end", store_history=True)  # type: ignore[attr-defined]
    assert not monitor.running
    key = "system/process_memory_rss_megabytes"
    assert len(client.get_metric_history(run.info.run_id, key)) >= 2
