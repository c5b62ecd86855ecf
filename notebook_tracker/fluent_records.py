"""What the fluent API records in a run besides metrics: params, tags and artifacts (files,
text, dicts, figures, tables), in the active run or `run_id`, with MLflow's names. The metric
hot path stays in `fluent`, which re-exports these."""

from __future__ import annotations

import os
from typing import Any

from notebook_tracker import validation
from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Param, RunTag


def _target(run_id: str | None) -> tuple[TrackingClient, str]:
    if run_id is not None:
        return fluent.current_client(), run_id
    run = fluent.run_for_logging()
    return run.client, run.info.run_id


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    client, run_id = _target(None)
    return client.log_param(run_id, key, value)


def log_params(
    params: dict[str, Any], synchronous: bool | None = None, run_id: str | None = None
) -> None:
    client, run_id = _target(run_id)
    checked = []
    for key, value in params.items():
        validation.validate_key(key, "param")
        checked.append(Param(key, validation.param_value(value, key)))
    client.store.log_batch(run_id, params=checked)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    client, run_id = _target(None)
    client.set_tag(run_id, key, value)


def set_tags(tags: dict[str, Any], synchronous: bool | None = None) -> None:
    client, run_id = _target(None)
    checked = []
    for key, value in tags.items():
        validation.validate_key(key, "tag")
        checked.append(RunTag(key, validation.tag_value(value, key)))
    client.store.log_batch(run_id, tags=checked)


def delete_tag(key: str) -> None:
    client, run_id = _target(None)
    client.delete_tag(run_id, key)


def log_artifact(
    local_path: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None
) -> None:
    client, run_id = _target(run_id)
    client.log_artifact(run_id, local_path, artifact_path)


def log_artifacts(
    local_dir: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None
) -> None:
    client, run_id = _target(run_id)
    client.log_artifacts(run_id, local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    client, run_id = _target(run_id)
    client.log_text(run_id, text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    client, run_id = _target(run_id)
    client.log_dict(run_id, dictionary, artifact_file)


def log_figure(
    figure: Any,
    artifact_file: str,
    *,
    save_kwargs: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> None:
    client, run_id = _target(run_id)
    client.log_figure(run_id, figure, artifact_file, save_kwargs)


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    client, run_id = _target(run_id)
    client.log_table(run_id, data, artifact_file)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    run = fluent.run_for_logging()
    base = run.info.artifact_uri
    return f"{base}/{artifact_path.lstrip('/')}" if artifact_path else base


# Last: `fluent` imports this module and takes its functions as it loads, so a program that
# imports this module first must have them defined before `fluent` loads.
from notebook_tracker import fluent  # noqa: E402
