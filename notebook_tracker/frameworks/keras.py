"""`nt.keras`: the `keras` flavor and Keras 3 autologging (any backend).

`keras.Model.fit` is hooked. The run gets, with MLflow's names:

- the fit arguments (`epochs`, `batch_size`, `validation_split`, `shuffle`, ...), the
  optimizer's name and settings (`opt_name`, `opt_learning_rate`, `opt_beta_1`, ...);
- every metric Keras reports, per epoch (`loss`, `val_loss`, `accuracy`, ...; step = epoch),
  and per batch with `log_every_n_steps=N`; each point through the run's metric buffer, live;
- an `EarlyStopping` callback's settings (`monitor`, `patience`, ...) and outcome
  (`stopped_epoch`, `restored_epoch` metrics);
- when fit returns: `model_summary.txt` and the model (`keras` flavor) named `model`.

Writing the model costs more than all the rest (~0.3 s for a small MLP, ~3% of a 10-second
fit), so it and the summary are written by the run's background worker (`run_jobs`): fit
returns at once, and the run's end, its reads, and the next hooked fit wait for them. The
weights are copied before fit returns; should the live model's weights differ from that copy
when the worker gets to it (the user changed them meanwhile), a clone holding the copied
weights is saved instead, so the logged model is always the one fit returned.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from typing import Any

from notebook_tracker import run_jobs
from notebook_tracker.frameworks import autolog as _autolog
from notebook_tracker.frameworks import dl_common, flavor_api
from notebook_tracker.frameworks.lightning import _Guard

NAME = "keras"
MODULES = ("keras",)
FLAVOR = "keras"
OPTIONS: dict[str, Any] = {
    "log_every_epoch": True,
    "log_every_n_steps": None,
    "registered_model_name": None,
    "save_model_kwargs": None,
    "extra_tags": None,
}
FIT_PARAMS = (
    "batch_size",
    "epochs",
    "validation_split",
    "shuffle",
    "class_weight",
    "initial_epoch",
    "steps_per_epoch",
    "validation_steps",
    "validation_batch_size",
    "validation_freq",
)
EARLY_STOPPING_PARAMS = ("monitor", "min_delta", "patience", "baseline", "restore_best_weights")


def patch(patcher: Any, st: Any, module_name: str) -> None:
    model = getattr(sys.modules.get("keras"), "Model", None)
    if model is not None:  # keras/__init__ has finished
        patcher.wrap(model, "fit", functools.partial(_fit, st))


def autolog(
    log_every_epoch: bool = True,
    log_every_n_steps: int | None = None,
    log_models: bool = True,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    save_model_kwargs: dict[str, Any] | None = None,
    extra_tags: dict[str, str] | None = None,
) -> None:
    """Autologging for `keras.Model.fit` (MLflow's `mlflow.keras.autolog` options)."""
    _autolog.configure(
        NAME,
        disable=disable,
        log_every_epoch=log_every_epoch,
        log_every_n_steps=log_every_n_steps,
        log_models=log_models,
        log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures,
        exclusive=exclusive,
        silent=silent,
        registered_model_name=registered_model_name,
        save_model_kwargs=save_model_kwargs,
        extra_tags=extra_tags,
    )


def save_model(model: Any, path: str | os.PathLike[str], **options: Any) -> Any:
    """Save a `keras.Model` in the `.keras` format (see `nt.models.save_model` for options)."""
    return flavor_api.save_model(FLAVOR, model, path, **options)


def log_model(model: Any, name: str | None = "model", **options: Any) -> Any:
    """Log a `keras.Model` into the active run (see `nt.models.log_model` for options)."""
    return flavor_api.log_model(FLAVOR, model, name, **options)


def load_model(
    model_uri: str | os.PathLike[str],
    dst_path: str | os.PathLike[str] | None = None,
    custom_objects: dict[str, Any] | None = None,
) -> Any:
    """The `keras.Model` (ours or MLflow's `.keras` models)."""
    return flavor_api.load_model(FLAVOR, model_uri, dst_path, custom_objects=custom_objects)


def _fit(st: Any, original: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
    with _autolog.training_run(st) as run_id:
        if run_id is None:
            original(model, *args, **kwargs)
            return
        import keras

        run_jobs.wait(run_id)  # an earlier fit's model is written before training changes it
        if st.option("extra_tags"):
            from notebook_tracker import fluent

            fluent.set_tags(dict(st.option("extra_tags")))
        bound = _bind(model, args, kwargs)
        guard = _Guard(st)
        callbacks = list(bound.get("callbacks") or [])
        ours = _callback_class()(run_id, st, guard)
        args, kwargs = _with_callbacks(args, kwargs, [*callbacks, ours])
        guard("logging fit parameters", _log_setup, model, bound, run_id)
        original(model, *args, **kwargs)
        stoppers = [c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)]
        if stoppers:
            _log_early_stopping(stoppers[0], run_id)
        run_jobs.submit(run_id, _after_fit(st, model, bound.get("x"), run_id, guard))


def _after_fit(st: Any, model: Any, x: Any, run_id: str, guard: _Guard) -> Any:
    """The summary and the model, to be written off the user's thread. What the user may
    change once fit returns (the weights, the training data) is copied now."""
    import numpy as np

    log_models = bool(st.option("log_models"))
    weights = [np.array(w, copy=True) for w in model.get_weights()] if log_models else []
    example = np.array(x[:5], copy=True) if isinstance(x, np.ndarray) else None

    def job() -> None:
        guard("logging the model summary", _log_summary, model, run_id)
        if not log_models:
            return
        fitted = model if _unchanged(model, weights) else _clone(model, weights)
        guard("logging the model", _log_model, st, fitted, example, run_id)
        if fitted is model and not _unchanged(model, weights):  # changed while being written
            guard("logging the model", _log_model, st, _clone(model, weights), example, run_id)

    return job


def _unchanged(model: Any, weights: list[Any]) -> bool:
    import numpy as np

    live = model.get_weights()
    return len(live) == len(weights) and all(
        np.array_equal(a, b) for a, b in zip(live, weights, strict=True)
    )


def _clone(model: Any, weights: list[Any]) -> Any:
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(weights)
    return clone


def _bind(model: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """fit's arguments by name, defaults included."""
    fit = type(model).fit
    fit = getattr(fit, "__nt_original__", fit)
    try:
        sig = inspect.signature(fit)
        bound = sig.bind_partial(model, *args, **kwargs)
    except (TypeError, ValueError):
        return dict(kwargs)
    values = {name: p.default for name, p in sig.parameters.items() if p.default is not p.empty}
    values.update(bound.arguments)
    return values


def _with_callbacks(
    args: tuple[Any, ...], kwargs: dict[str, Any], callbacks: list[Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    position = 5  # fit(x, y, batch_size, epochs, verbose, callbacks, ...)
    if len(args) > position:
        args = (*args[:position], callbacks, *args[position + 1 :])
    else:
        kwargs = {**kwargs, "callbacks": callbacks}
    return args, kwargs


def _log_setup(model: Any, bound: dict[str, Any], run_id: str) -> None:
    params = {name: bound.get(name) for name in FIT_PARAMS if name in bound}
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        params["opt_name"] = type(optimizer).__name__
        config = dict(optimizer.get_config())
        config.pop("name", None)
        config["learning_rate"] = _learning_rate(optimizer)
        params.update({f"opt_{key}": value for key, value in config.items()})
    dl_common.log_params(dl_common.flatten(params), run_id)


def _learning_rate(optimizer: Any) -> Any:
    import keras

    rate = optimizer.learning_rate
    try:
        # str() of the float32 gives its shortest form: 0.001, not 0.0010000000474974513
        return float(str(keras.ops.convert_to_numpy(rate)))
    except Exception:
        return type(getattr(optimizer, "_learning_rate", rate)).__name__  # a schedule


@functools.cache
def _callback_class() -> type:
    import keras

    class NotebookTrackerCallback(keras.callbacks.Callback):
        def __init__(self, run_id: str, st: Any, guard: _Guard) -> None:
            super().__init__()
            self.run_id, self.guard = run_id, guard
            self.every_epoch = bool(st.option("log_every_epoch"))
            self.every_n = st.option("log_every_n_steps")
            self.step = 0

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if self.every_epoch and logs:
                self.guard("logging epoch metrics", dl_common.log_metrics, logs, epoch, self.run_id)

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            self.step += 1
            if self.every_n and logs and self.step % self.every_n == 0:
                self.guard(
                    "logging step metrics", dl_common.log_metrics, logs, self.step, self.run_id
                )

    return NotebookTrackerCallback


def _log_early_stopping(stopper: Any, run_id: str) -> None:
    params = {name: getattr(stopper, name, None) for name in EARLY_STOPPING_PARAMS}
    dl_common.log_params(dl_common.flatten(params), run_id)
    metrics: dict[str, Any] = {"stopped_epoch": stopper.stopped_epoch}
    best_epoch = getattr(stopper, "best_epoch", None)
    if stopper.restore_best_weights and stopper.stopped_epoch > 0 and best_epoch is not None:
        metrics["restored_epoch"] = best_epoch
    dl_common.log_metrics(metrics, 0, run_id)


def _log_summary(model: Any, run_id: str) -> None:
    from notebook_tracker import fluent

    lines: list[str] = []
    model.summary(print_fn=lambda line, *a, **k: lines.append(line))
    fluent.log_text("\n".join(lines), "model_summary.txt", run_id=run_id)


def _log_model(st: Any, model: Any, example: Any, run_id: str) -> None:
    import numpy as np

    from notebook_tracker.models.api import log_model as log

    if not (st.option("log_input_examples") or st.option("log_model_signatures")):
        example = None
    options: dict[str, Any] = {}
    if example is not None and not st.option("log_input_examples"):
        from notebook_tracker.models.signature import infer_signature

        options["signature"] = infer_signature(
            example, np.asarray(model.predict(example, verbose=0))
        )
        example = None
    if not st.option("log_model_signatures"):
        options["signature"] = False
    log(
        model,
        name="model",
        flavor=FLAVOR,
        run_id=run_id,
        input_example=example,
        registered_model_name=st.option("registered_model_name"),
        save_model_kwargs=st.option("save_model_kwargs"),
        **options,
    )
