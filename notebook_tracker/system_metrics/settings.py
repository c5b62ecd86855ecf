"""System metrics settings with MLflow's names, kept in environment variables.

Like MLflow, the setters write the environment, so processes started afterwards (project
children, sweep workers) inherit them. Each is read once when a monitor starts, never per sample.
"""

from __future__ import annotations

import os

from notebook_tracker import env
from notebook_tracker.errors import InvalidParameter

DEFAULT_SAMPLING_INTERVAL_S = 10.0
DEFAULT_SAMPLES_BEFORE_LOGGING = 1
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def enable_system_metrics_logging() -> None:
    """Log system metrics for every run from now on (a run can still opt out with
    `start_run(log_system_metrics=False)`)."""
    os.environ[env.ENABLE_SYSTEM_METRICS_LOGGING] = "true"


def disable_system_metrics_logging() -> None:
    """Log no system metrics from now on, except for runs started with
    `log_system_metrics=True`; this also turns off the default for project runs and sweeps."""
    os.environ[env.ENABLE_SYSTEM_METRICS_LOGGING] = "false"


def set_system_metrics_sampling_interval(interval: float | None) -> None:
    """Sample every `interval` seconds (default 10); None restores the default."""
    if interval is None:
        os.environ.pop(env.SYSTEM_METRICS_SAMPLING_INTERVAL, None)
        return
    os.environ[env.SYSTEM_METRICS_SAMPLING_INTERVAL] = str(positive_interval(interval))


def set_system_metrics_samples_before_logging(samples: int | None) -> None:
    """Log the average of every `samples` samples (default 1); None restores the default."""
    if samples is None:
        os.environ.pop(env.SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING, None)
        return
    os.environ[env.SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING] = str(positive_samples(samples))


def set_system_metrics_node_id(node_id: str | None) -> None:
    """Name this machine in the metric keys (`system/<node_id>/...`), for runs that span
    several machines; None removes it."""
    if node_id is None:
        os.environ.pop(env.SYSTEM_METRICS_NODE_ID, None)
        return
    os.environ[env.SYSTEM_METRICS_NODE_ID] = checked_node_id(node_id)


def should_log(explicit: bool | None, default: bool = False) -> bool:
    """Whether a run logs system metrics: its own choice, else the variable, else `default`
    (False for plain runs, True for project runs and sweeps)."""
    if explicit is not None:
        return bool(explicit)
    raw = (env.raw(env.ENABLE_SYSTEM_METRICS_LOGGING) or "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    if raw:
        raise InvalidParameter(
            f"{env.ENABLE_SYSTEM_METRICS_LOGGING}={raw!r} is not understood: set it to "
            "'true' or 'false' (or unset it)."
        )
    return default


def check_settings() -> None:
    """Raise the error of any setting a monitor would refuse (before a run exists, not after)."""
    sampling_interval()
    samples_before_logging()
    raw = node_id()
    if raw is not None:
        checked_node_id(raw)


def sampling_interval() -> float:
    raw = env.raw(env.SYSTEM_METRICS_SAMPLING_INTERVAL)
    if not raw:
        return DEFAULT_SAMPLING_INTERVAL_S
    try:
        return positive_interval(float(raw))
    except ValueError:
        raise InvalidParameter(
            f"{env.SYSTEM_METRICS_SAMPLING_INTERVAL}={raw!r} is not a number of seconds: "
            "set it to e.g. 10 or 0.5."
        ) from None


def samples_before_logging() -> int:
    raw = env.raw(env.SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING)
    if not raw:
        return DEFAULT_SAMPLES_BEFORE_LOGGING
    try:
        return positive_samples(int(raw))
    except ValueError:
        raise InvalidParameter(
            f"{env.SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING}={raw!r} is not a whole number: "
            "set it to 1 or more."
        ) from None


def node_id() -> str | None:
    return env.text(env.SYSTEM_METRICS_NODE_ID)


def positive_interval(interval: object) -> float:
    if isinstance(interval, bool) or not isinstance(interval, (int, float)):
        raise InvalidParameter(
            f"Invalid system metrics sampling interval {interval!r}: give a number of seconds."
        )
    if not interval > 0 or interval != interval or interval == float("inf"):
        raise InvalidParameter(
            f"Invalid system metrics sampling interval {interval!r}: it must be a positive, "
            "finite number of seconds (MLflow's default is 10)."
        )
    return float(interval)


def positive_samples(samples: object) -> int:
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise InvalidParameter(
            f"Invalid number of system metrics samples before logging {samples!r}: "
            "give a whole number, 1 or more."
        )
    return samples


def checked_node_id(node_id: object) -> str:
    from notebook_tracker.validation import validate_key

    if not isinstance(node_id, str) or not node_id or "/" in node_id:
        raise InvalidParameter(
            f"Invalid system metrics node id {node_id!r}: give a non-empty name without '/', "
            "e.g. the host name."
        )
    validate_key(f"system/{node_id}/cpu_utilization_percentage", "system metrics node id")
    return node_id
