"""`nt.lightgbm`: LightGBM autologging and the `lightgbm` flavor's save/log/load.

Autologging hooks `lightgbm.train` (params, `{data}-{metric}` per iteration, early stopping,
`split` and `gain` feature importance, the Booster) and the scikit-learn API's `fit` (the
same, and the estimator as the model, with signature and input example).
"""

from __future__ import annotations

import os
from typing import Any

from notebook_tracker.frameworks import autolog as _autolog

NAME = "lightgbm"
MODULES = ("lightgbm",)
OPTIONS: dict[str, Any] = {"registered_model_name": None, "serialization_format": "cloudpickle"}
UNLOGGED = ("params", "train_set", "valid_sets", "valid_names", "fobj", "feval", "init_model",
            "learning_rates", "callbacks", "evals_result")  # fmt: skip
IMPORTANCE_TYPES = ("split", "gain")
SKLEARN_GUARD = "lightgbm.sklearn"


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = False,
    disable: bool = False,
    exclusive: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    serialization_format: str = "cloudpickle",
) -> None:
    """Autolog LightGBM training (MLflow's `mlflow.lightgbm.autolog` options)."""
    options = dict(locals())
    options.pop("disable")
    _autolog.configure(NAME, disable=disable, **options)


# -- hooks -------------------------------------------------------------------------------------
def _callback(logger: Any) -> Any:
    def callback(env: Any) -> None:
        values = {
            f"{data}-{metric}": value for data, metric, value, *_ in env.evaluation_result_list
        }
        try:
            logger.log(env.iteration, values)
        except Exception as error:  # a metric that cannot be logged must not stop training
            from notebook_tracker.frameworks import patching

            patching.warn(NAME, "logging iteration metrics", error)

    callback.order = 100  # type: ignore[attr-defined]  # after LightGBM's own callbacks
    return callback


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
                _after_train(st, run_id, booster, logger)

    return hook


def _after_train(st: Any, run_id: str, booster: Any, logger: Any) -> None:
    from notebook_tracker.frameworks import boosting, common

    if booster.best_iteration > 0:  # early stopping (iterations count from 1 in LightGBM)
        stopped = len(logger.history)
        best = booster.best_iteration
        boosting.log_early_stopping(logger, best, stopped, best - 1)
    names = booster.feature_name()
    for kind in IMPORTANCE_TYPES:
        values = booster.feature_importance(importance_type=kind).tolist()
        boosting.log_importance(run_id, dict(zip(names, values, strict=False)), kind)
    if st.option("log_models") and not boosting.in_sklearn_fit():
        common.log_model(st, run_id, booster, "model", None, None, flavor=NAME)


def patch(patcher: Any, st: Any, module_name: str) -> None:
    """Hook every imported module's `train` and the scikit-learn-API classes' `fit`; called
    again on each import of the framework's modules."""
    from notebook_tracker.frameworks import boosting

    boosting.patch_framework(
        patcher, ("lightgbm", "lightgbm.engine", "lightgbm.sklearn"), _train_hook(st),
        SKLEARN_GUARD, "LGBMModel", boosting.fit_hook(st, NAME, "serialization_format"),
    )  # fmt: skip


# -- flavor ------------------------------------------------------------------------------------
def save_model(lgb_model: Any, path: str | os.PathLike[str], **kwargs: Any) -> Any:
    """Save a Booster (`model.lgb`) or LGBMModel (pickled) with the `lightgbm` flavor."""
    from notebook_tracker.frameworks import flavor_api

    return flavor_api.save_model(NAME, lgb_model, path, **kwargs)


def log_model(lgb_model: Any, name: str | None = None, **kwargs: Any) -> Any:
    """Log a Booster or LGBMModel into the active run (or `run_id=`)."""
    from notebook_tracker.frameworks import flavor_api

    return flavor_api.log_model(NAME, lgb_model, name, **kwargs)


def load_model(model_uri: str | os.PathLike[str], dst_path: str | None = None) -> Any:
    """The Booster or LGBMModel itself."""
    from notebook_tracker.frameworks import flavor_api

    return flavor_api.load_model(NAME, model_uri, dst_path)
