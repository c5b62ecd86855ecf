"""`nt.lightning`: PyTorch Lightning autologging (`lightning` and `pytorch_lightning`).

`Trainer.fit` is hooked. For the call's duration a logger and a callback ride along with the
user's own (removed again when fit returns), so the run gets, as the fit goes:

- hyperparameters: what `save_hyperparameters()` recorded (Lightning hands them to loggers);
- every `self.log(...)` metric, per step and per epoch, at Lightning's own cadence
  (`Trainer(log_every_n_steps=...)`), under Lightning's names (`loss_step`, `loss_epoch`, ...)
  and its global step; each point goes through the run's metric buffer, so it shows live;
- `epochs`, `optimizer_name` and the optimizer's settings (`lr`, `betas`, ...), and the
  learning-rate scheduler's (`scheduler_name`, `scheduler.step_size`, ...);
- when fit returns: the best checkpoint of the trainer's `ModelCheckpoint` (or the final
  weights when there is none) as a `pytorch` model named `model`, and `best_model_score`.
  The module is copied before fit returns and written by the run's background worker
  (`run_jobs`): the run's end, its reads and the next hooked fit wait for it.
"""

from __future__ import annotations

import copy
import functools
import importlib
import sys
import warnings
from typing import Any

from notebook_tracker import run_jobs
from notebook_tracker.frameworks import autolog as _autolog
from notebook_tracker.frameworks import dl_common
from notebook_tracker.frameworks.patching import AutologWarning

NAME = "lightning"
MODULES = ("lightning", "pytorch_lightning")
OPTIONS: dict[str, Any] = {
    "checkpoint": True,  # log the best checkpoint (not the last weights) when there is one
    "registered_model_name": None,
    "extra_tags": None,
}
_TRAINER_MODULES = ("lightning.pytorch.trainer.trainer", "pytorch_lightning.trainer.trainer")


def patch(patcher: Any, st: Any, module_name: str) -> None:
    for name in _TRAINER_MODULES:
        module = sys.modules.get(name)
        trainer = getattr(module, "Trainer", None)
        if trainer is not None:
            base = name.rsplit(".trainer.trainer", 1)[0]
            patcher.wrap(trainer, "fit", functools.partial(_fit, st, base))


def autolog(
    log_models: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    silent: bool = False,
    checkpoint: bool = True,
    registered_model_name: str | None = None,
    extra_tags: dict[str, str] | None = None,
) -> None:
    """Autologging for Lightning's `Trainer.fit` (MLflow's `mlflow.pytorch.autolog`)."""
    _autolog.configure(
        NAME,
        disable=disable,
        log_models=log_models,
        exclusive=exclusive,
        silent=silent,
        checkpoint=checkpoint,
        registered_model_name=registered_model_name,
        extra_tags=extra_tags,
    )


def _fit(st: Any, base: str, original: Any, trainer: Any, *args: Any, **kwargs: Any) -> None:
    with _autolog.training_run(st) as run_id:
        if run_id is None:
            original(trainer, *args, **kwargs)
            return
        run_jobs.wait(run_id)  # an earlier fit's model is written before training changes it
        if st.option("extra_tags"):
            from notebook_tracker import fluent

            fluent.set_tags(dict(st.option("extra_tags")))
        guard = _Guard(st)
        logger = _logger_class(base)(run_id, trainer.default_root_dir, guard)
        callback = _callback_class(base)(run_id, guard)
        before = list(trainer.loggers)
        trainer.loggers = [*before, logger]
        trainer.callbacks.append(callback)
        try:
            original(trainer, *args, **kwargs)
        finally:
            trainer.loggers = before
            if callback in trainer.callbacks:
                trainer.callbacks.remove(callback)
        if st.option("log_models"):
            job = _model_job(st, trainer, run_id, guard)
            if job is not None:
                run_jobs.submit(run_id, job)


class _Guard:
    """Failures while logging from inside the training loop: warned once, never raised."""

    def __init__(self, st: Any) -> None:
        self.st = st
        self.warned = False

    def __call__(self, what: str, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as error:
            if not self.warned and not _autolog.is_silent(self.st):
                self.warned = True
                warnings.warn(
                    f"notebook-tracker lightning autologging: {what} failed "
                    f"({type(error).__name__}: {error}); training is unaffected.",
                    AutologWarning,
                    stacklevel=2,
                )


@functools.cache
def _logger_class(base: str) -> type:
    logger_base = importlib.import_module(f"{base}.loggers").Logger

    class NotebookTrackerLogger(logger_base):  # type: ignore[misc, valid-type]
        """Lightning's logger interface onto a run. Its empty name and version keep the
        checkpoint directory where it would be without it (`<root>/checkpoints`)."""

        def __init__(self, run_id: str, root: str, guard: _Guard) -> None:
            super().__init__()
            self.run_id, self.root, self.guard = run_id, root, guard

        @property
        def name(self) -> str:
            return ""

        @property
        def version(self) -> str:
            return ""

        @property
        def save_dir(self) -> str:
            return self.root

        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            params = (
                vars(params)
                if hasattr(params, "__dict__") and not hasattr(params, "items")
                else params
            )
            self.guard("logging hyperparameters", _log_hparams, params, self.run_id)

        def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
            metrics = {k: v for k, v in metrics.items() if k != "epoch"}
            self.guard("logging metrics", dl_common.log_metrics, metrics, step or 0, self.run_id)

    return NotebookTrackerLogger


def _log_hparams(params: Any, run_id: str) -> None:
    dl_common.log_params(dl_common.flatten(dict(params or {})), run_id)


@functools.cache
def _callback_class(base: str) -> type:
    callback_base = importlib.import_module(f"{base}.callbacks").Callback

    class NotebookTrackerCallback(callback_base):  # type: ignore[misc, valid-type]
        def __init__(self, run_id: str, guard: _Guard) -> None:
            self.run_id, self.guard = run_id, guard

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            self.guard("logging optimizer settings", _log_training_setup, trainer, self.run_id)

    return NotebookTrackerCallback


def _log_training_setup(trainer: Any, run_id: str) -> None:
    params: dict[str, Any] = {"epochs": trainer.max_epochs}
    optimizers = list(getattr(trainer, "optimizers", None) or [])
    if optimizers:
        optimizer = optimizers[0]
        params["optimizer_name"] = type(optimizer).__name__
        params.update(getattr(optimizer, "defaults", {}) or {})
    configs = list(getattr(trainer, "lr_scheduler_configs", None) or [])
    if configs:
        config = configs[0]
        scheduler = config.scheduler
        params["scheduler_name"] = type(scheduler).__name__
        params["scheduler.interval"] = config.interval
        params["scheduler.frequency"] = config.frequency
        if config.monitor:
            params["scheduler.monitor"] = config.monitor
        for key, value in scheduler.state_dict().items():
            if not key.startswith("_") and key not in ("last_epoch", "base_lrs"):
                if isinstance(value, dl_common.PLAIN):
                    params[f"scheduler.{key}"] = value
    dl_common.log_params(dl_common.flatten(params), run_id)


def _model_job(st: Any, trainer: Any, run_id: str, guard: _Guard) -> Any:
    """Logging the model, to be done off the user's thread: what fit left (the module, the
    checkpoint's path and score) is taken now, as the user may train on at once."""
    module = trainer.lightning_module
    if module is None:
        return None
    checkpoint = getattr(trainer, "checkpoint_callback", None)
    best_path = getattr(checkpoint, "best_model_path", "") if checkpoint is not None else ""
    best = bool(st.option("checkpoint") and best_path)
    score = getattr(checkpoint, "best_model_score", None) if best else None
    monitor = getattr(checkpoint, "monitor", None) if best else None
    step = trainer.global_step
    snapshot = copy.deepcopy(module)  # the user's module keeps its last weights, and changes

    def job() -> None:
        guard("logging the model", _log_model, st, snapshot, best_path if best else "", run_id)
        if score is not None:
            guard("logging the best score", dl_common.log_metrics, {"best_model_score": score},
                  step, run_id)  # fmt: skip
        if monitor:
            guard("logging the checkpoint", dl_common.log_params, {"checkpoint_monitor": monitor},
                  run_id)  # fmt: skip

    return job


def _log_model(st: Any, model: Any, best_path: str, run_id: str) -> None:
    from notebook_tracker.models.api import log_model

    if best_path:
        import torch

        state = torch.load(best_path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["state_dict"])
    log_model(
        model,
        name="model",
        flavor="pytorch",
        run_id=run_id,
        registered_model_name=st.option("registered_model_name"),
    )
