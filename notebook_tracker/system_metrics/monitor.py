"""The sampler: a daemon thread that samples the machine and logs averages as `system/...`.

Points go through the metric buffer (the same fast path as `log_metric`), so they reach SQL
and http stores alike and are written with the run's end. Step = the index of the logged
average (0, 1, 2, ...), timestamps are wall-clock milliseconds at logging time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from notebook_tracker.lazy_log import LazyLogger
from notebook_tracker.system_metrics import collectors, settings

_log = LazyLogger(__name__)
THREAD_NAME = "notebook-tracker-system-metrics"
_CPU_KEY = "cpu_utilization_percentage"
_warned_no_psutil = False


def metric_prefix(node_id: str | None) -> str:
    return f"system/{node_id}/" if node_id else "system/"


def next_step(store: Any, run_id: str, node_id: str | None = None) -> int:
    """The step after the last one logged for this run (a resumed run continues its series)."""
    history = store.get_metric_history(run_id, metric_prefix(node_id) + _CPU_KEY)
    return int(max(history.steps)) + 1 if len(history) else 0


class SystemMetricsMonitor:
    """Samples every `sampling_interval` seconds and logs the average of every
    `samples_before_logging` samples to run `run_id`; `stop()` logs what is pending.

    Unset settings come from `set_system_metrics_*` / their environment variables, read once
    here. Without psutil the monitor warns once and does nothing.
    """

    def __init__(
        self,
        run_id: str,
        store: Any,
        *,
        sampling_interval: float | None = None,
        samples_before_logging: int | None = None,
        node_id: str | None = None,
        first_step: int = 0,
        buffer: Any = None,
    ) -> None:
        self.run_id = run_id
        self.store = getattr(store, "store", store)  # a TrackingClient or a store
        self.interval = (
            settings.sampling_interval()
            if sampling_interval is None
            else settings.positive_interval(sampling_interval)
        )
        self.samples = (
            settings.samples_before_logging()
            if samples_before_logging is None
            else settings.positive_samples(samples_before_logging)
        )
        node = settings.node_id() if node_id is None else settings.checked_node_id(node_id)
        self.prefix = metric_prefix(node)
        self.step = first_step
        self._first_step = first_step
        self._buffer = buffer
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._collectors: dict[str, collectors.Collector] = {}
        self._gpu: collectors.NvmlCollector | None = None
        self._failed: set[str] = set()
        self._last_sample = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> SystemMetricsMonitor:
        global _warned_no_psutil
        if self._thread is not None:
            return self
        psutil = collectors.load_psutil()
        if psutil is None:
            if not _warned_no_psutil:
                _warned_no_psutil = True
                _log.warning(
                    "notebook-tracker: system metrics need psutil; install it "
                    "(pip install psutil) to log CPU, memory, disk and network."
                )
            return self
        if self._buffer is None:
            self._buffer = _buffer_for(self.store)
        try:
            self._collectors = collectors.PsutilCollector(psutil).collectors()
        except Exception as error:  # e.g. /proc unreadable in a sandbox: GPUs may still work
            _log.warning("notebook-tracker: CPU/memory/disk/network metrics are off: %s", error)
        self._last_sample = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()
        return self

    def stop(self, flush: bool = True) -> None:
        """Log what is pending, end the thread, and (with `flush`) write the points now."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout=10)  # a hung reading (a stuck GPU driver) must not hold the run
        if self._gpu is not None:
            self._gpu.close()
        if flush and self._buffer is not None:
            self._buffer.flush(raise_errors=False)

    def __enter__(self) -> SystemMetricsMonitor:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- the thread -------------------------------------------------------------------------
    def _run(self) -> None:
        # NVML's start-up can take a while on a GPU machine: here, not in start_run's thread.
        try:
            self._gpu = collectors.find_gpus()
        except Exception as error:
            _log.warning("notebook-tracker: GPU metrics are off: %s", error)
        if self._gpu is not None:
            self._collectors["gpu"] = self._gpu
        pending: list[dict[str, float]] = []
        while True:
            stopping = self._stop.wait(self.interval)
            try:
                # At stop, a sample of a few milliseconds would be noise: only take it when
                # nothing was logged yet or a fair share of an interval has passed.
                since = time.monotonic() - self._last_sample
                nothing_yet = self.step == self._first_step and not pending
                if not stopping or nothing_yet or since >= min(self.interval, 1.0) / 2:
                    pending.append(self._sample())
                if pending and (len(pending) >= self.samples or stopping):
                    self._publish(pending)
                    pending = []
            except Exception as error:  # never let the sampler take anything down
                _log.warning("notebook-tracker: system metrics sampling failed: %s", error)
            if stopping:
                return

    def _sample(self) -> dict[str, float]:
        self._last_sample = time.monotonic()
        sample: dict[str, float] = {}
        for name, collect in self._collectors.items():
            try:
                sample.update(collect())
            except Exception as error:
                if name not in self._failed:  # once per kind, not every interval
                    self._failed.add(name)
                    _log.warning(
                        "notebook-tracker: could not read the %s system metrics (%s); "
                        "the others are still logged.",
                        name,
                        error,
                    )
        return sample

    def _publish(self, samples: list[dict[str, float]]) -> None:
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for sample in samples:
            for key, value in sample.items():
                sums[key] = sums.get(key, 0.0) + value
                counts[key] = counts.get(key, 0) + 1
        if not sums:
            return
        buf = self._buffer
        now = time.time() * 1000
        step = self.step
        self.step += 1
        for key, total in sums.items():
            if len(buf.rows) >= buf.limit:
                buf.make_room()
            buf.append((self.run_id, self.prefix + key, total / counts[key], now, step))


def _buffer_for(store: Any) -> Any:
    from notebook_tracker import metric_buffer
    from notebook_tracker.fluent import open_run_ids

    return metric_buffer.buffer_for(store, open_run_ids)


@contextmanager
def monitor(
    run_id: str,
    store: Any,
    *,
    enabled: bool = True,
    sampling_interval: float | None = None,
    samples_before_logging: int | None = None,
    node_id: str | None = None,
    first_step: int = 0,
) -> Iterator[SystemMetricsMonitor | None]:
    """Sample system metrics into run `run_id` for the duration of the block (stopped and
    flushed on the way out, error or not); yields None when `enabled` is False."""
    if not enabled:
        yield None
        return
    sampler = SystemMetricsMonitor(
        run_id,
        store,
        sampling_interval=sampling_interval,
        samples_before_logging=samples_before_logging,
        node_id=node_id,
        first_step=first_step,
    ).start()
    try:
        yield sampler
    finally:
        sampler.stop()
