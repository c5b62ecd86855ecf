"""`nt.sklearn`: scikit-learn autologging and the `sklearn` flavor's save/log/load.

Autologging hooks `fit`, `fit_predict` and `fit_transform` of scikit-learn's estimators
(data-preparation ones only inside a Pipeline, as MLflow), their `predict`-like methods and
`score`, and the `sklearn.metrics` functions (post-training metrics). See docs/frameworks.md.
"""

from __future__ import annotations

import os
from typing import Any

from notebook_tracker.frameworks import autolog as _autolog

NAME = "sklearn"
MODULES = ("sklearn",)
OPTIONS: dict[str, Any] = {
    "max_tuning_runs": 5,
    "log_post_training_metrics": True,
    "serialization_format": "cloudpickle",
    "pos_label": None,
    "registered_model_name": None,
}
FIT_METHODS = ("fit", "fit_predict", "fit_transform")
# Data preparation, not learning: logged as a Pipeline's steps, never on its own (MLflow's list).
_EXCLUDED_MODULES = ("sklearn.preprocessing", "sklearn.impute", "sklearn.feature_extraction",
                     "sklearn.feature_selection")  # fmt: skip
_EXCLUDED_CLASSES = ("sklearn.compose._column_transformer.ColumnTransformer",)


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = False,
    disable: bool = False,
    exclusive: bool = False,
    silent: bool = False,
    max_tuning_runs: int | None = 5,
    log_post_training_metrics: bool = True,
    serialization_format: str = "cloudpickle",
    pos_label: Any = None,
    registered_model_name: str | None = None,
) -> None:
    """Autolog scikit-learn training (MLflow's `mlflow.sklearn.autolog` options)."""
    from notebook_tracker.errors import InvalidParameter

    if max_tuning_runs is not None and max_tuning_runs < 0:
        raise InvalidParameter(
            f"max_tuning_runs must be None or a non-negative number, not {max_tuning_runs}."
        )
    options = dict(locals())
    options.pop("disable")
    options.pop("InvalidParameter")
    _autolog.configure(NAME, disable=disable, **options)


# -- hooks -------------------------------------------------------------------------------------
def _fit_hook(st: Any) -> Any:
    def hook(original: Any, self: Any, *args: Any, **kwargs: Any) -> None:
        from notebook_tracker.frameworks import common, sklearn_eval, sklearn_fit

        with _autolog.training_run(st) as run_id:
            if run_id is None:
                original(self, *args, **kwargs)
                return
            x, y, weight = sklearn_fit.fit_arguments(original, self, args, kwargs)
            example = common.head(x) if st.option("log_models") else None
            original(self, *args, **kwargs)
            with _autolog.quietly(st):
                sklearn_fit.log_fit(st, run_id, self, x, y, weight, example)
            if st.option("log_post_training_metrics"):
                sklearn_eval.remember_model(self, run_id)

    return hook


def _eval_hook(st: Any, fn: Any) -> Any:
    def hook(original: Any, *args: Any, **kwargs: Any) -> None:
        if not st.option("log_post_training_metrics"):
            original(*args, **kwargs)
            return
        fn(original, *args, **kwargs)

    return hook


def _excluded(cls: type) -> bool:
    module = cls.__module__
    return (
        module.startswith(_EXCLUDED_MODULES)
        or f"{module}.{cls.__name__}" in _EXCLUDED_CLASSES
        or cls.__name__.startswith("_")
        or not module.startswith("sklearn.")
    )


def _estimator_classes() -> list[type]:
    import sys

    found, todo = [], list(sys.modules["sklearn.base"].BaseEstimator.__subclasses__())
    seen: set[type] = set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        todo.extend(cls.__subclasses__())
        if not _excluded(cls):
            found.append(cls)
    return found


def patch(patcher: Any, st: Any, module_name: str) -> None:
    """On every scikit-learn (sub)module import: hook the estimator classes defined so far."""
    import sys

    base = sys.modules.get("sklearn.base")
    if base is None or not hasattr(base, "BaseEstimator"):
        return  # scikit-learn is still being imported: called again as its modules load
    from notebook_tracker.frameworks import sklearn_eval

    fit_hook = _fit_hook(st)
    predict_hook = _eval_hook(st, sklearn_eval.predict_hook)
    score_hook = _eval_hook(st, sklearn_eval.score_hook)
    for cls in _estimator_classes():
        for method in FIT_METHODS:
            if callable(getattr(cls, method, None)):
                patcher.wrap(cls, method, fit_hook)
        for method in sklearn_eval.PREDICT_METHODS:
            if method in cls.__dict__:
                patcher.wrap(cls, method, predict_hook)
        if callable(getattr(cls, "score", None)):
            patcher.wrap(cls, "score", score_hook)
    metrics = sys.modules.get("sklearn.metrics")
    if metrics is not None:
        metric_hook = _eval_hook(st, sklearn_eval.metric_hook)
        for name in sklearn_eval.metric_functions(metrics):
            patcher.wrap(metrics, name, metric_hook)


# -- flavor ------------------------------------------------------------------------------------
def save_model(sk_model: Any, path: str | os.PathLike[str], **kwargs: Any) -> Any:
    """Save an estimator with the `sklearn` flavor (MLflow's layout); see nt.models.save_model."""
    from notebook_tracker.models.api import save_model as _save

    return _save(sk_model, path, flavor="sklearn", **kwargs)


def log_model(sk_model: Any, name: str | None = None, **kwargs: Any) -> Any:
    """Log an estimator into the active run (or `run_id=`); see nt.models.log_model."""
    from notebook_tracker.models.api import log_model as _log

    return _log(sk_model, name, flavor="sklearn", **kwargs)


def load_model(model_uri: str | os.PathLike[str], dst_path: str | None = None) -> Any:
    """The estimator itself (not a PyFuncModel)."""
    from notebook_tracker.models.api import load_model as _load

    return _load(model_uri, flavor="sklearn", dst_path=dst_path)
