"""Helpers the deep-learning integrations (Lightning, Keras) share: params made loggable."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from notebook_tracker import fluent

_BAD_KEY = re.compile(r"[^\w\-. /]")
PLAIN = (str, int, float, bool, type(None))


def flatten(params: Mapping[str, Any], prefix: str = "", depth: int = 3) -> dict[str, Any]:
    """`{"opt": {"lr": 0.1}}` -> `{"opt.lr": 0.1}`; other values by their repr (cut short)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = _BAD_KEY.sub("_", f"{prefix}{key}")
        if isinstance(value, Mapping) and depth > 0:
            out.update(flatten(value, f"{name}.", depth - 1))
        elif isinstance(value, PLAIN):
            out[name] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, PLAIN) for v in value):
            out[name] = list(value)
        else:
            out[name] = _short(value)
    return out


def _short(value: Any) -> str:
    text = getattr(value, "__name__", None) or repr(value)
    return text if len(text) <= 250 else text[:247] + "..."


def log_params(params: Mapping[str, Any], run_id: str) -> None:
    """Log what can be logged: a key the run already holds with another value (the user
    logged it first) is left as the user set it."""
    if not params:
        return
    try:
        fluent.log_params(dict(params), run_id=run_id)
    except Exception:
        for key, value in params.items():
            try:
                fluent.log_params({key: value}, run_id=run_id)
            except Exception:
                continue


def log_metrics(metrics: Mapping[str, Any], step: int, run_id: str) -> None:
    """The fast path: each point is an append to the run's buffer."""
    for key, value in metrics.items():
        try:
            number = float(value.item() if hasattr(value, "item") else value)
        except (TypeError, ValueError):
            continue
        fluent.log_metric(_BAD_KEY.sub("_", str(key)), number, step=step, run_id=run_id)
