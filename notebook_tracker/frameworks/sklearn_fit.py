"""What a scikit-learn `fit` logs: params, tags, training metrics, the model, searches.

Names are MLflow's (`training_accuracy_score`, `training_root_mean_squared_error`,
`best_cv_score`, `best_<param>`, `cv_results.csv`, `estimator_name`/`estimator_class` tags).
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any

from notebook_tracker import run_jobs
from notebook_tracker.frameworks import autolog, common, sklearn_metrics

PREFIX = "training_"
SEARCH_CLASSES = ("GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV",
                  "HalvingRandomSearchCV")  # fmt: skip


def is_search(estimator: Any) -> bool:
    return hasattr(estimator, "cv_results_") or type(estimator).__name__ in SEARCH_CLASSES


def fit_arguments(original: Any, self: Any, args: tuple, kwargs: dict) -> tuple[Any, Any, Any]:
    """(X, y, sample_weight) as the user passed them to fit."""
    try:
        bound = inspect.signature(original).bind_partial(self, *args, **kwargs).arguments
    except TypeError:
        bound = {}
    names = [n for n in bound if n != "self"]
    x = bound.get("X", bound[names[0]] if names else None)
    y = bound.get("y", bound.get("Y"))
    if y is None and len(args) > 1:
        y = args[1]
    weight = bound.get("sample_weight")
    if weight is None:
        weight = (bound.get("kwargs") or bound.get("fit_params") or bound.get("params") or {}).get(
            "sample_weight"
        )
    return x, y, weight


def estimator_tags(estimator: Any) -> dict[str, str]:
    cls = type(estimator)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__name__}"}


def finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def training_metrics(estimator: Any, x: Any, y: Any, weight: Any, pos_label: Any) -> dict:
    """Classifier or regressor metrics on the training data; {} for other estimators."""
    from sklearn.base import is_classifier, is_regressor

    if y is None:
        return {}
    out: dict[str, float] = {}
    reused_score = None
    if is_classifier(estimator):
        proba = _proba(estimator, x)
        y_pred = _labels_from_proba(estimator, proba)
        if y_pred is None:
            y_pred = estimator.predict(x)
        fast = None
        if pos_label is None:
            fast = sklearn_metrics.classification(
                y, y_pred, proba, getattr(estimator, "classes_", None), weight
            )
        if fast is None:
            fast = _sklearn_classification(estimator, y, y_pred, proba, weight, pos_label)
        out.update({PREFIX + k: v for k, v in fast.items() if finite(v)})
        if _score_is(estimator, "ClassifierMixin") and "accuracy_score" in fast:
            reused_score = fast["accuracy_score"]
    elif is_regressor(estimator):
        y_pred = estimator.predict(x)
        fast = sklearn_metrics.regression(y, y_pred, weight)
        if fast is None:
            fast = _sklearn_regression(y, y_pred, weight)
        out.update({PREFIX + k: v for k, v in fast.items() if finite(v)})
        if _score_is(estimator, "RegressorMixin") and "r2_score" in fast:
            reused_score = fast["r2_score"]
    if reused_score is not None:
        out[PREFIX + "score"] = reused_score
    elif hasattr(estimator, "score"):
        value = _quiet(_score, estimator, x, y, weight)
        if finite(value):
            out[PREFIX + "score"] = float(value)
    return out


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    if run_jobs.in_worker():
        # warnings' filters are process-wide: changing them here, off the user's thread,
        # could undo the user's own `catch_warnings` (or leave ours in place).
        try:
            return fn(*args, **kwargs)
        except Exception:
            return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    except Exception:
        return None  # not defined for this problem (e.g. ROC AUC with one class)


def _score(estimator: Any, x: Any, y: Any, weight: Any) -> Any:
    names = inspect.signature(estimator.score).parameters
    if "sample_weight" in names and weight is not None:
        return estimator.score(x, y, sample_weight=weight)
    return estimator.score(x, y)


def _score_is(estimator: Any, mixin: str) -> bool:
    """True when `score` is scikit-learn's own accuracy (classifiers) or R² (regressors)."""
    from sklearn import base

    return _unwrapped(getattr(type(estimator), "score", None)) is _unwrapped(
        getattr(base, mixin).score
    )


def _unwrapped(fn: Any) -> Any:
    return getattr(fn, "__nt_original__", fn)


def _proba(estimator: Any, x: Any) -> Any:
    if not hasattr(estimator, "predict_proba"):
        return None
    return _quiet(estimator.predict_proba, x)


def _labels_from_proba(estimator: Any, proba: Any) -> Any:
    """Forests' and trees' predict() is exactly the argmax of predict_proba(): reuse it."""
    from sklearn.ensemble._forest import ForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    cls = type(estimator)
    derived = _unwrapped(getattr(cls, "predict", None)) in (
        _unwrapped(ForestClassifier.predict),
        _unwrapped(DecisionTreeClassifier.predict),
    )
    if not derived or proba is None or getattr(proba, "ndim", 0) != 2:
        return None
    if getattr(estimator, "n_outputs_", 1) != 1:
        return None
    return estimator.classes_.take(proba.argmax(axis=1), axis=0)


def _sklearn_classification(
    estimator: Any, y: Any, y_pred: Any, proba: Any, weight: Any, pos_label: Any
) -> dict[str, float]:
    from sklearn import metrics

    average = "weighted" if pos_label is None else "binary"
    out = {}
    for name, fn in (("precision_score", metrics.precision_score),
                     ("recall_score", metrics.recall_score),
                     ("f1_score", metrics.f1_score)):  # fmt: skip
        out[name] = _quiet(fn, y, y_pred, pos_label=pos_label, average=average,
                           sample_weight=weight)  # fmt: skip
    out["accuracy_score"] = _quiet(metrics.accuracy_score, y, y_pred, sample_weight=weight)
    if proba is not None:
        classes = getattr(estimator, "classes_", None)
        out["log_loss"] = _quiet(metrics.log_loss, y, proba, labels=classes, sample_weight=weight)
        score = proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba
        labels = None if score.ndim == 1 else classes
        out["roc_auc"] = _quiet(metrics.roc_auc_score, y, score, average="weighted",
                                multi_class="ovo", labels=labels, sample_weight=weight)  # fmt: skip
    return {k: v for k, v in out.items() if v is not None}


def _sklearn_regression(y: Any, y_pred: Any, weight: Any) -> dict[str, float]:
    from sklearn import metrics

    kw = {"multioutput": "uniform_average", "sample_weight": weight}
    out = {
        "mean_squared_error": _quiet(metrics.mean_squared_error, y, y_pred, **kw),
        "mean_absolute_error": _quiet(metrics.mean_absolute_error, y, y_pred, **kw),
        "r2_score": _quiet(metrics.r2_score, y, y_pred, **kw),
    }
    rmse = getattr(metrics, "root_mean_squared_error", None)
    if rmse is not None:
        out["root_mean_squared_error"] = _quiet(rmse, y, y_pred, **kw)
    return {k: v for k, v in out.items() if v is not None}


def predict_fn(estimator: Any) -> Any:
    for name in ("predict", "transform"):
        fn = getattr(estimator, name, None)
        if callable(fn):
            return fn
    return None


def log_fit(
    st: Any, run_id: str, estimator: Any, x: Any, y: Any, weight: Any, example: Any
) -> None:
    """Everything after a successful fit; each part fails on its own (a warning)."""
    with warnings.catch_warnings():
        # scikit-learn's deprecation notices raised by our get_params()/predict_proba() calls
        # are about our introspection, not the user's code.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        _log_fit(st, run_id, estimator, x, y, weight, example)


def _log_fit(
    st: Any, run_id: str, estimator: Any, x: Any, y: Any, weight: Any, example: Any
) -> None:
    search = is_search(estimator)
    params = estimator.get_params(deep=not search)
    if search and hasattr(estimator, "best_params_"):
        params.update({f"best_{k}": v for k, v in estimator.best_params_.items()})
    tags = estimator_tags(estimator)
    if not search:
        from notebook_tracker.frameworks import sklearn_deferred

        job = sklearn_deferred.snapshot_job(st, run_id, estimator, x, y, weight, example)
        if job is not None:

            def background() -> None:
                log_records(st, run_id, params, tags)
                job()

            run_jobs.submit(run_id, background)
            return
    log_records(st, run_id, params, tags)
    log_results(st, run_id, estimator, x, y, weight, example)
    if search:
        from notebook_tracker.frameworks import sklearn_search

        _part(st, "the parameter search", sklearn_search.log_search, st, run_id, estimator,
              example)  # fmt: skip


def log_records(st: Any, run_id: str, params: dict[str, Any], tags: dict[str, str]) -> None:
    """Params and tags in one write."""
    _part(st, "params and tags", common.log_params, run_id, params, st.option("silent"), tags)


def log_results(
    st: Any, run_id: str, estimator: Any, x: Any, y: Any, weight: Any, example: Any
) -> None:
    """Training metrics and the model: what needs predictions and serialisation."""
    metrics = _part(st, "training metrics", training_metrics, estimator, x, y, weight,
                    st.option("pos_label")) or {}  # fmt: skip
    if metrics:
        common.log_metrics(run_id, metrics)
    # The sklearn flavor serves predict(): transformers without one (PCA) are not logged.
    if st.option("log_models") and callable(getattr(estimator, "predict", None)):
        fmt = {"serialization_format": st.option("serialization_format")}
        _part(st, "the model", common.log_model, st, run_id, estimator, "model", example,
              predict_fn(estimator), **fmt)  # fmt: skip


def _part(st: Any, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception as error:
        if not st.option("silent"):
            warnings.warn(
                f"notebook-tracker sklearn autologging: logging {what} failed "
                f"({type(error).__name__}: {error}); training is unaffected.",
                autolog.patching.AutologWarning,
                stacklevel=3,
            )
        return None
