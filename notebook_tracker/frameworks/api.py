"""`nt.autolog()`: autologging for every installed framework."""

from __future__ import annotations

from typing import Any

from notebook_tracker.frameworks import autolog as _autolog


def autolog(
    log_models: bool = True,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_datasets: bool = False,
    disable: bool = False,
    exclusive: bool = False,
    silent: bool = False,
) -> list[str]:
    """Turn on autologging for every installed framework with integration (or off with
    `disable=True`); framework-specific options go to `nt.<framework>.autolog(...)`.

    Outside a run, a training call starts a run and ends it when it returns (as MLflow does);
    inside one (or a `%%track_run` cell) it logs there. Returns the integrations it set.
    """
    options: dict[str, Any] = {
        "log_models": log_models,
        "log_input_examples": log_input_examples,
        "log_model_signatures": log_model_signatures,
        "log_datasets": log_datasets,
        "exclusive": exclusive,
        "silent": silent,
    }
    return _autolog.autolog_all(disable=disable, **options)
