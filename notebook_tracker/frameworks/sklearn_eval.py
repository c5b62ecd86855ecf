"""Post-training metrics: `sklearn.metrics` calls on a trained model's predictions, and
`model.score(X_test, y_test)`, logged into the run the model was trained in, named
`{metric}[-{n}]_{data variable}` as MLflow does (e.g. `r2_score_X_test`,
`LinearRegression_score_X_test`, `accuracy_score-2_X_val`)."""

from __future__ import annotations

import inspect
import threading
import weakref
from collections import defaultdict
from typing import Any

from notebook_tracker.frameworks import common

_lock = threading.Lock()
_model_runs: dict[int, str] = {}  # id(estimator) -> run it was trained in
_predictions: dict[int, tuple[str, str]] = {}  # id(prediction) -> (run_id, dataset name)
_datasets: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
_calls: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function",
                   "transform")  # fmt: skip
_OUR_FILES = ("notebook_tracker/frameworks", "notebook_tracker\\frameworks")


def remember_model(estimator: Any, run_id: str) -> None:
    key = id(estimator)
    with _lock:
        _model_runs[key] = run_id
    try:
        weakref.finalize(estimator, _model_runs.pop, key, None)
    except TypeError:
        pass


def run_of(estimator: Any) -> str | None:
    return _model_runs.get(id(estimator))


def variable_name(obj: Any, fallback: str = "unknown_dataset") -> str:
    """The name the user's code gave `obj`, looked up in the first frame outside this package
    and scikit-learn (a notebook cell's namespace, or the calling function's locals)."""
    frame = inspect.currentframe()
    try:
        while frame is not None:
            filename = frame.f_code.co_filename
            if not (any(p in filename for p in _OUR_FILES) or "/sklearn/" in filename):
                for name, value in frame.f_locals.items():
                    if value is obj and not name.startswith("_"):
                        return name
                return fallback
            frame = frame.f_back
        return fallback
    finally:
        del frame


def _dataset_name(run_id: str, data: Any) -> str:
    name = variable_name(data)
    with _lock:
        seen = _datasets[run_id][name]
        if id(data) not in seen:
            seen.append(id(data))
        index = seen.index(id(data))
    return name if index == 0 else f"{name}-{index + 1}"


def _metric_key(run_id: str, metric: str, dataset: str) -> str:
    with _lock:
        n = _calls[run_id][metric]
        _calls[run_id][metric] = n + 1
    return f"{metric if n == 0 else f'{metric}-{n + 1}'}_{dataset}"


def predict_hook(original: Any, self: Any, *args: Any, **kwargs: Any) -> None:
    run_id = run_of(self)
    result = original(self, *args, **kwargs)
    if run_id is None or not (args or kwargs):
        return
    data = args[0] if args else next(iter(kwargs.values()))
    name = _dataset_name(run_id, data)
    key = id(result)
    with _lock:
        _predictions[key] = (run_id, name)
    try:
        weakref.finalize(result, _predictions.pop, key, None)
    except TypeError:  # a result type without weak references: forget it at the next call
        pass


def metric_hook(original: Any, *args: Any, **kwargs: Any) -> None:
    value = original(*args, **kwargs)
    for arg in (*args, *kwargs.values()):
        found = _predictions.get(id(arg)) if arg is not None else None
        if found is not None:
            break
    else:
        return
    if not _number(value):
        return
    run_id, dataset = found
    name = getattr(original, "__wrapped__", original).__name__
    key = _metric_key(run_id, name, dataset)
    common.log_metrics(run_id, {key: float(value)})


def score_hook(original: Any, self: Any, *args: Any, **kwargs: Any) -> None:
    run_id = run_of(self)
    value = original(self, *args, **kwargs)
    if run_id is None or not _number(value) or not (args or kwargs):
        return
    data = args[0] if args else kwargs.get("X", next(iter(kwargs.values())))
    dataset = _dataset_name(run_id, data)
    key = _metric_key(run_id, f"{type(self).__name__}_score", dataset)
    common.log_metrics(run_id, {key: float(value)})


def _number(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def metric_functions(metrics_module: Any) -> list[str]:
    """The `sklearn.metrics` functions whose result is one number worth logging."""
    names = getattr(metrics_module, "__all__", dir(metrics_module))
    return [
        n
        for n in names
        if n.endswith(("_score", "_error", "_loss")) and callable(getattr(metrics_module, n, None))
        and not n.startswith(("get_", "check_", "make_"))
    ]  # fmt: skip


def reset() -> None:
    with _lock:
        _model_runs.clear()
        _predictions.clear()
        _datasets.clear()
        _calls.clear()
