"""What one sample reads: CPU, memory, disk and network through psutil, GPUs through NVML.

Each collector returns {metric name without the `system/` prefix: value}, with MLflow's names
and units (megabytes are 10^6 bytes; network figures count from the monitor's start).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from notebook_tracker.lazy_log import LazyLogger

_log = LazyLogger(__name__)

Collector = Callable[[], dict[str, float]]
_MB = 1e6


class PsutilCollector:
    """CPU, memory, disk and network of the whole machine, as MLflow reports them."""

    def __init__(self, psutil: Any, disk_path: str = os.sep) -> None:
        self._psutil = psutil
        self._disk_path = disk_path
        # CPU use from our own counters, not psutil.cpu_percent(): its baseline is per thread
        # and shared with any other caller in the process, which would skew ours.
        self._cpu_last = self._cpu_times()
        net = psutil.net_io_counters()
        self._net_start = (net.bytes_recv, net.bytes_sent) if net is not None else (0, 0)

    def _cpu_times(self) -> tuple[float, float]:
        """(busy, total) CPU seconds of the machine so far, counted as psutil counts them."""
        times = self._psutil.cpu_times()
        total = sum(times)
        # Linux counts guest time inside user and nice already.
        total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
        idle = times.idle + getattr(times, "iowait", 0.0)
        return total - idle, total

    def cpu(self) -> dict[str, float]:
        busy, total = self._cpu_times()
        last_busy, last_total = self._cpu_last
        if total - last_total <= 0:  # no clock tick since the last sample: nothing to say
            return {}
        self._cpu_last = (busy, total)
        share = (busy - last_busy) / (total - last_total) * 100.0
        return {"cpu_utilization_percentage": min(100.0, max(0.0, share))}

    def memory(self) -> dict[str, float]:
        memory = self._psutil.virtual_memory()
        return {
            "system_memory_usage_megabytes": memory.used / _MB,
            "system_memory_usage_percentage": memory.used / memory.total * 100.0,
        }

    def disk(self) -> dict[str, float]:
        disk = self._psutil.disk_usage(self._disk_path)
        return {
            "disk_usage_percentage": float(disk.percent),
            "disk_usage_megabytes": disk.used / _MB,
            "disk_available_megabytes": disk.free / _MB,
        }

    def network(self) -> dict[str, float]:
        net = self._psutil.net_io_counters()
        if net is None:  # no network interface at all
            return {}
        return {
            "network_receive_megabytes": (net.bytes_recv - self._net_start[0]) / _MB,
            "network_transmit_megabytes": (net.bytes_sent - self._net_start[1]) / _MB,
        }

    def collectors(self) -> dict[str, Collector]:
        return {"cpu": self.cpu, "memory": self.memory, "disk": self.disk, "network": self.network}


class NvmlCollector:
    """Utilisation, memory and power of each NVIDIA GPU (`gpu_<i>_...`)."""

    def __init__(self, nvml: Any, count: int) -> None:
        self._nvml = nvml
        self._handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        self._no_power: set[int] = set()

    def __call__(self) -> dict[str, float]:
        nvml = self._nvml
        out: dict[str, float] = {}
        for i, handle in enumerate(self._handles):
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            out[f"gpu_{i}_memory_usage_percentage"] = memory.used / memory.total * 100.0
            out[f"gpu_{i}_memory_usage_megabytes"] = memory.used / _MB
            rates = nvml.nvmlDeviceGetUtilizationRates(handle)
            out[f"gpu_{i}_utilization_percentage"] = float(rates.gpu)
            if i not in self._no_power:
                try:
                    watts = nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
                    limit = nvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0
                except Exception:  # many GPUs do not report power: skip it, keep the rest
                    self._no_power.add(i)
                    continue
                out[f"gpu_{i}_power_usage_watts"] = watts
                if limit > 0:
                    out[f"gpu_{i}_power_usage_percentage"] = watts / limit * 100.0
        return out

    def close(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except Exception:
            pass


def find_gpus() -> NvmlCollector | None:
    """An NVML collector when `pynvml` (nvidia-ml-py) is installed and finds a GPU, else None."""
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception as error:  # no driver: the common case on machines without a GPU
        _log.debug("NVML is not available: %s", error)
        return None
    try:
        count = int(pynvml.nvmlDeviceGetCount())
        if count > 0:
            return NvmlCollector(pynvml, count)
    except Exception as error:
        _log.warning("notebook-tracker: GPU metrics are off, NVML failed: %s", error)
    try:
        pynvml.nvmlShutdown()
    except Exception:
        pass
    return None


def load_psutil() -> Any:
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        return None
    return psutil
