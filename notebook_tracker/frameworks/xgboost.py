"""`nt.xgboost`: XGBoost autologging and the `xgboost` flavor's save/log/load.

Autologging hooks `xgboost.train` (params, `{data}-{metric}` per iteration, early stopping,
feature importance, the Booster) and the scikit-learn API's `fit` (the same, and the
estimator as the model, with signature and input example). See docs/frameworks.md.
"""

from __future__ import annotations

import os
from typing import Any

from notebook_tracker.frameworks import autolog as _autolog

NAME = "xgboost"
MODULES = ("xgboost",)
OPTIONS: dict[str, Any] = {
    "importance_types": None,  # ["weight"], as MLflow
    "model_format": "ubj",
    "registered_model_name": None,
}
UNLOGGED = ("params", "dtrain", "evals", "obj", "feval", "evals_result", "xgb_model",
            "callbacks", "learning_rates", "custom_metric")  # fmt: skip
SKLEARN_GUARD = "xgboost.sklearn"


def autolog(
    importance_types: list[str] | None = None,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = False,
    disable: bool = False,
    exclusive: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    model_format: str = "ubj",
) -> None:
    """Autolog XGBoost training (MLflow's `mlflow.xgboost.autolog` options)."""
    options = dict(locals())
    options.pop("disable")
    _autolog.configure(NAME, disable=disable, **options)


# -- hooks -------------------------------------------------------------------------------------
def _callback(logger: Any) -> Any:
    import xgboost

    class NotebookTrackerCallback(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
            values = {
                f"{data}-{metric}": history[-1]
                for data, metrics in evals_log.items()
                for metric, history in metrics.items()
                if history
            }
            try:
                logger.log(epoch, values)
            except Exception as error:  # a metric that cannot be logged must not stop training
                from notebook_tracker.frameworks import patching

                patching.warn(NAME, "logging iteration metrics", error)
            return False

    return NotebookTrackerCallback()


def _train_hook(st: Any) -> Any:
    def hook(original: Any, *args: Any, **kwargs: Any) -> None:
        from notebook_tracker.frameworks import boosting, common

        with _autolog.training_run(st) as run_id:
            if run_id is None:
                original(*args, **kwargs)
                return
            params = boosting.call_params(original, args, kwargs, UNLOGGED)
            common.log_params(run_id, params, st.option("silent"))
            logger = boosting.IterationLogger(run_id)
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or ()), _callback(logger)]
            booster = original(*args, **kwargs)
            with _autolog.quietly(st):
                _after_train(st, run_id, booster, logger, params)

    return hook


def _after_train(st: Any, run_id: str, booster: Any, logger: Any, params: dict) -> None:
    from notebook_tracker.frameworks import boosting, common

    if params.get("early_stopping_rounds") and hasattr(booster, "best_iteration"):
        stopped = len(logger.history) - 1
        boosting.log_early_stopping(logger, booster.best_iteration, stopped, booster.best_iteration)
    for kind in st.option("importance_types") or ["weight"]:
        boosting.log_importance(run_id, booster.get_score(importance_type=kind), kind)
    if st.option("log_models") and not boosting.in_sklearn_fit():
        common.log_model(st, run_id, booster, "model", None, None,
                         flavor="xgboost", model_format=st.option("model_format"))  # fmt: skip


def patch(patcher: Any, st: Any, module_name: str) -> None:
    """Hook every imported module's `train` and the scikit-learn-API classes' `fit`; called
    again on each import of the framework's modules."""
    from notebook_tracker.frameworks import boosting

    boosting.patch_framework(
        patcher, ("xgboost", "xgboost.training", "xgboost.sklearn"), _train_hook(st),
        SKLEARN_GUARD, "XGBModel", boosting.fit_hook(st, NAME, "model_format"),
    )  # fmt: skip


# -- flavor ------------------------------------------------------------------------------------
def save_model(xgb_model: Any, path: str | os.PathLike[str], **kwargs: Any) -> Any:
    """Save a Booster or XGBModel with the `xgboost` flavor (`model_format="ubj"|"json"|"xgb"`)."""
    from notebook_tracker.frameworks import flavor_api

    return flavor_api.save_model(NAME, xgb_model, path, **kwargs)


def log_model(xgb_model: Any, name: str | None = None, **kwargs: Any) -> Any:
    """Log a Booster or XGBModel into the active run (or `run_id=`)."""
    from notebook_tracker.frameworks import flavor_api

    return flavor_api.log_model(NAME, xgb_model, name, **kwargs)


def load_model(model_uri: str | os.PathLike[str], dst_path: str | None = None) -> Any:
    """The Booster or XGBModel itself (its class as saved)."""
    from notebook_tracker.frameworks import flavor_api

    return flavor_api.load_model(NAME, model_uri, dst_path)
