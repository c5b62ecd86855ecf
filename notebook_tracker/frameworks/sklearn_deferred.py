"""A fit's training metrics and model, logged after the fit has returned.

Predicting on the training data and writing the model take longer than the rest of a fit's
logging together (for a 1-second random forest: ~35 ms and ~30 ms of CPU). Both are done by
the run's background worker (`run_jobs`), from a snapshot taken before the fit returns: the
estimator pickled (a few ms; the user may refit or change it as soon as they have it back) and
the training data copied (the user may change it in place). The run's end, and every read of
the run, wait for the work, so the run is never seen ended without its metrics and model.
Data too large to copy cheaply, or an estimator that pickle cannot take, are logged as before,
before the fit returns.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable
from typing import Any

from notebook_tracker.frameworks import patching

# Above this, copying the training data costs about what predicting on it does: log in line.
MAX_COPY_BYTES = 64 * 2**20
_TOO_BIG = object()


def snapshot_job(
    st: Any, run_id: str, estimator: Any, x: Any, y: Any, weight: Any, example: Any
) -> Callable[[], None] | None:
    """The deferred logging of this fit, or None when it must be done now."""
    try:
        blob = pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return None  # e.g. a lambda inside: the flavor's cloudpickle may still take it, in line
    x_copy, y_copy, weight_copy = (_copy(v) for v in (x, y, weight))
    if any(v is _TOO_BIG for v in (x_copy, y_copy, weight_copy)):
        return None
    config = _sklearn_config()

    def job() -> None:
        from sklearn import config_context

        from notebook_tracker.frameworks import sklearn_fit

        model = pickle.loads(blob)
        # scikit-learn's settings (set_config, config_context) are per thread: the user's apply.
        with config_context(**config), patching.scope(st.name):
            sklearn_fit.log_results(st, run_id, model, x_copy, y_copy, weight_copy, example)

    return job


def _sklearn_config() -> dict[str, Any]:
    return dict(sys.modules["sklearn"].get_config())


def _copy(value: Any) -> Any:
    if value is None:
        return None
    size = _nbytes(value)
    if size is None or size > MAX_COPY_BYTES:
        return _TOO_BIG
    try:
        return value.copy()
    except Exception:
        return _TOO_BIG


def _nbytes(value: Any) -> int | None:
    """Bytes a copy takes, for arrays, sparse matrices and pandas objects; None otherwise."""
    if hasattr(value, "memory_usage") and hasattr(value, "iloc"):  # pandas
        usage = value.memory_usage(index=True, deep=False)
        return int(usage.sum() if hasattr(usage, "sum") else usage)
    if hasattr(value, "nbytes") and hasattr(value, "copy"):  # numpy
        return int(value.nbytes)
    data: Any = getattr(value, "data", None)  # scipy.sparse
    if hasattr(data, "nbytes") and hasattr(value, "copy"):
        return int(data.nbytes) * 3
    return None
