"""System metrics: CPU, memory, disk, network and GPU of the machine a run uses, logged as
`system/...` metrics with MLflow's names by a sampler thread.

    with system_metrics.monitor(run_id, store):   # for code that manages runs by id
        ...
    nt.start_run(log_system_metrics=True)          # the fluent way
"""

from notebook_tracker.system_metrics.monitor import (
    THREAD_NAME,
    SystemMetricsMonitor,
    metric_prefix,
    monitor,
    next_step,
)
from notebook_tracker.system_metrics.settings import (
    check_settings,
    disable_system_metrics_logging,
    enable_system_metrics_logging,
    set_system_metrics_node_id,
    set_system_metrics_samples_before_logging,
    set_system_metrics_sampling_interval,
    should_log,
)

__all__ = [
    "THREAD_NAME",
    "SystemMetricsMonitor",
    "check_settings",
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "metric_prefix",
    "monitor",
    "next_step",
    "set_system_metrics_node_id",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
    "should_log",
]
