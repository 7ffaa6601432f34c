"""What one sample reads: the machine (psutil), this process, and NVIDIA GPUs (NVML).

Each collector returns ``{name: value}`` without the ``system/`` prefix, with
MLflow's names (``cpu_utilization_percentage``, ``gpu_0_utilization_percentage``,
...), so runs moved between nbtrack and MLflow chart the same keys. psutil is
imported here only, when a monitor starts.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol

import psutil

log = logging.getLogger("nbtrack.system_metrics")

MB = 1e6  # MLflow's megabytes are 10**6 bytes


class Collector(Protocol):
    """One source of system metrics."""

    def sample(self) -> dict[str, float]:
        """The current values (names without the ``system/`` prefix)."""
        ...


class CpuMemory:
    """Machine-wide CPU use (since the previous sample) and memory in use."""

    def __init__(self) -> None:
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement

    def sample(self) -> dict[str, float]:
        memory = psutil.virtual_memory()
        return {
            "cpu_utilization_percentage": float(psutil.cpu_percent(interval=None)),
            "system_memory_usage_megabytes": memory.used / MB,
            "system_memory_usage_percentage": memory.used / memory.total * 100,
        }


class Disk:
    """Use of the disk holding ``path`` (default: the root, as MLflow reads it)."""

    def __init__(self, path: str = os.sep) -> None:
        self.path = path

    def sample(self) -> dict[str, float]:
        usage = psutil.disk_usage(self.path)
        return {
            "disk_usage_percentage": float(usage.percent),
            "disk_usage_megabytes": usage.used / MB,
            "disk_available_megabytes": usage.free / MB,
        }


class Network:
    """Megabytes received and sent by the machine since the monitor started."""

    def __init__(self) -> None:
        start = psutil.net_io_counters()
        self.received, self.sent = start.bytes_recv, start.bytes_sent

    def sample(self) -> dict[str, float]:
        now = psutil.net_io_counters()
        return {
            "network_receive_megabytes": (now.bytes_recv - self.received) / MB,
            "network_transmit_megabytes": (now.bytes_sent - self.sent) / MB,
        }


class Process:
    """This process (the notebook's kernel) and its children: CPU, memory, threads, files.

    A kernel that leaks shows here first. Children (data loader workers, joblib
    pools) are summed in, as MLflow's process monitor does; their
    :class:`psutil.Process` objects are kept so that CPU use is measured since
    the previous sample rather than from zero.
    """

    def __init__(self, include_children: bool = True) -> None:
        self.me = psutil.Process(os.getpid())
        self.include_children = include_children
        self.known: dict[int, psutil.Process] = {self.me.pid: self.me}
        self.me.cpu_percent(interval=None)

    def _processes(self) -> list[psutil.Process]:
        if not self.include_children:
            return [self.me]
        try:
            children = self.me.children(recursive=True)
        except psutil.Error:
            children = []
        current: dict[int, psutil.Process] = {self.me.pid: self.me}
        for child in children:
            current[child.pid] = self.known.get(child.pid, child)
        self.known = current
        return list(current.values())

    def sample(self) -> dict[str, float]:
        cpu = rss = vms = 0.0
        threads = files = 0
        for proc in self._processes():
            try:
                with proc.oneshot():
                    cpu += proc.cpu_percent(interval=None)
                    memory = proc.memory_info()
                    rss += memory.rss
                    vms += memory.vms
                    threads += proc.num_threads()
                    files += _open_files(proc)
            except psutil.Error:  # a child that exited between listing and reading
                continue
        total = psutil.virtual_memory().total
        return {
            "process_cpu_percentage": cpu,
            "process_memory_rss_megabytes": rss / MB,
            "process_memory_vms_megabytes": vms / MB,
            "process_memory_percentage": rss / total * 100 if total else 0.0,
            "process_threads": float(threads),
            "process_open_files": float(files),
        }


def _open_files(proc: psutil.Process) -> int:
    if hasattr(proc, "num_fds"):  # POSIX
        return int(proc.num_fds())
    return int(getattr(proc, "num_handles", lambda: 0)())  # Windows


class Gpu:
    """Per NVIDIA GPU: utilization, memory, power and temperature, via NVML.

    Raises :class:`RuntimeError` when NVML is missing (``pip install nvidia-ml-py``)
    or finds no GPU, so the monitor goes on without it. A reading a GPU does not
    support (power on some boards) is left out after one debug message.
    """

    def __init__(self) -> None:
        try:
            import pynvml
        except ImportError:
            raise RuntimeError("NVML not importable (pip install nvidia-ml-py)") from None
        try:
            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
        except pynvml.NVMLError as exc:
            raise RuntimeError(f"NVML found no usable GPU: {exc}") from None
        if count == 0:
            raise RuntimeError("NVML found no GPU")
        self.nvml: Any = pynvml
        self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        self.unsupported: set[str] = set()

    def _read(self, values: dict[str, float], key: str, read: Any) -> None:
        if key in self.unsupported:
            return
        try:
            read(values, key)
        except self.nvml.NVMLError as exc:
            self.unsupported.add(key)
            log.debug("nbtrack: GPU reading %s not available: %s", key, exc)

    def sample(self) -> dict[str, float]:
        nvml = self.nvml
        values: dict[str, float] = {}
        for i, handle in enumerate(self.handles):
            prefix = f"gpu_{i}_"

            def memory(out: dict[str, float], _key: str, h: Any = handle, p: str = prefix) -> None:
                info = nvml.nvmlDeviceGetMemoryInfo(h)
                out[p + "memory_usage_percentage"] = info.used / info.total * 100
                out[p + "memory_usage_megabytes"] = info.used / MB

            def utilization(out: dict[str, float], key: str, h: Any = handle) -> None:
                out[key] = float(nvml.nvmlDeviceGetUtilizationRates(h).gpu)

            def power(out: dict[str, float], key: str, h: Any = handle, p: str = prefix) -> None:
                milliwatts = nvml.nvmlDeviceGetPowerUsage(h)
                out[key] = milliwatts / 1000
                limit = nvml.nvmlDeviceGetEnforcedPowerLimit(h)
                if limit:
                    out[p + "power_usage_percentage"] = milliwatts / limit * 100

            def temperature(out: dict[str, float], key: str, h: Any = handle) -> None:
                out[key] = float(nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU))

            self._read(values, prefix + "memory", memory)
            self._read(values, prefix + "utilization_percentage", utilization)
            self._read(values, prefix + "power_usage_watts", power)
            self._read(values, prefix + "temperature_celsius", temperature)
        return values

    def close(self) -> None:
        """Release NVML (it counts initialisations)."""
        try:
            self.nvml.nvmlShutdown()
        except self.nvml.NVMLError as exc:
            log.debug("nbtrack: nvmlShutdown failed: %s", exc)


def default_collectors(*, gpu: bool = True) -> list[Collector]:
    """CPU and memory, disk, network, this process, and GPUs where NVML finds some."""
    collectors: list[Collector] = [CpuMemory(), Disk(), Network(), Process()]
    if gpu:
        try:
            collectors.append(Gpu())
        except RuntimeError as exc:
            log.debug("nbtrack: no GPU metrics: %s", exc)
    return collectors
