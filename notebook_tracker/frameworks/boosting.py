"""What the XGBoost and LightGBM integrations share: the params of a `train` call, per-iteration
metrics (through the run's metric buffer, so the live card shows them), early-stopping
results, and feature importance as `feature_importance_<type>.json` and `.png` (MLflow's names).
"""

from __future__ import annotations

import contextvars
import inspect
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from notebook_tracker.frameworks import common

# The scikit-learn-API model whose fit() is running: its train() call logs no Booster, the fit
# logs the estimator instead.
_sk_model: contextvars.ContextVar[Any] = contextvars.ContextVar("nt_boosting_sk", default=None)


@contextmanager
def sklearn_fit(model: Any) -> Iterator[None]:
    token = _sk_model.set(model)
    try:
        yield
    finally:
        _sk_model.reset(token)


def in_sklearn_fit() -> bool:
    return _sk_model.get() is not None


def call_params(original: Any, args: tuple, kwargs: dict, unlogged: tuple[str, ...]) -> dict:
    """The `params` dict of a train call merged with its other plain arguments (MLflow)."""
    try:
        sig = inspect.signature(original)
        bound = sig.bind_partial(*args, **kwargs)
    except (TypeError, ValueError):
        return dict(kwargs.get("params") or {})
    out: dict[str, Any] = {}
    for name, param in sig.parameters.items():
        if name in unlogged or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        value = bound.arguments.get(name, param.default)
        if value is not inspect.Parameter.empty:
            out[name] = value
    params = bound.arguments.get("params") or {}
    out.update(params if isinstance(params, dict) else dict(params))
    return out


class IterationLogger:
    """Logs `{data}-{metric}` values at each iteration; remembers them for early stopping."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.history: list[dict[str, float]] = []

    def log(self, step: int, values: dict[str, float]) -> None:
        clean = {k.replace("@", "_at_"): float(v) for k, v in values.items()}
        self.history.append(clean)
        common.log_metrics(self.run_id, clean, step=step)


def log_early_stopping(logger: IterationLogger, best: int, stopped: int, best_index: int) -> None:
    """`stopped_iteration`, `best_iteration`, and the best iteration's metrics at one more step."""
    common.log_metrics(logger.run_id, {"stopped_iteration": stopped, "best_iteration": best})
    if 0 <= best_index < len(logger.history):
        common.log_metrics(logger.run_id, logger.history[best_index], step=len(logger.history))


def log_importance(run_id: str, importance: dict[str, float], kind: str) -> None:
    """`feature_importance_<kind>.json` (feature -> value) and a horizontal bar chart PNG."""
    client = common.client_for(run_id)
    client.log_text(run_id, json.dumps(importance, indent=2), f"feature_importance_{kind}.json")
    if importance:
        client.log_bytes(run_id, _plot(importance, kind), f"feature_importance_{kind}.png")


def _plot(importance: dict[str, float], kind: str) -> bytes:
    from matplotlib.figure import Figure

    items = sorted(importance.items(), key=lambda kv: kv[1])[-30:]
    names = [k for k, _ in items]
    values = [float(v) for _, v in items]
    fig = Figure(figsize=(6.4, max(2.0, 0.3 * len(items) + 1)), dpi=100)
    ax = fig.add_subplot()
    ax.barh(range(len(items)), values, align="center", height=0.5)
    ax.set_yticks(range(len(items)))
    ax.set_yticklabels(names)
    ax.set_xlabel(f"importance ({kind})")
    ax.set_title("Feature importance")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def fit_hook(st: Any, flavor: str, format_option: str) -> Any:
    """The scikit-learn API's `fit` hook: the fit in a training run, its inner `train` logging
    no Booster, then the estimator as the model (`format_option` names the file-format option)."""
    from notebook_tracker.frameworks import autolog as _autolog

    def hook(original: Any, self: Any, *args: Any, **kwargs: Any) -> None:
        with _autolog.training_run(st) as run_id:
            if run_id is None:
                original(self, *args, **kwargs)
                return
            x = args[0] if args else kwargs.get("X")
            example = common.head(x) if st.option("log_models") else None
            with sklearn_fit(self):
                original(self, *args, **kwargs)
            if st.option("log_models"):
                fmt = {format_option: st.option(format_option)}
                with _autolog.quietly(st):
                    common.log_model(st, run_id, self, "model", example, self.predict,
                                     flavor=flavor, **fmt)  # fmt: skip

    return hook


def patch_framework(
    patcher: Any, train_modules: tuple[str, ...], train_hook: Any,
    sklearn_module: str, base_class: str, fit: Any,
) -> None:  # fmt: skip
    """Hook `train` in every imported module that holds its own reference, and `fit` on the
    scikit-learn-API base class and every subclass that defines one."""

    for name in train_modules:
        module = sys.modules.get(name)
        if module is not None and "train" in vars(module):
            patcher.wrap(module, "train", train_hook)
    sk = sys.modules.get(sklearn_module)
    if sk is not None and hasattr(sk, base_class):
        todo = [getattr(sk, base_class)]
        while todo:
            cls = todo.pop()
            todo.extend(cls.__subclasses__())
            if "fit" in vars(cls):
                patcher.wrap(cls, "fit", fit, guard=sklearn_module)
