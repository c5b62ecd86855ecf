"""`save_model`, `log_model` and `load_model`: a model to a directory, into a run, and back."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notebook_tracker import run_jobs
from notebook_tracker.errors import InvalidParameter, TrackerError
from notebook_tracker.models.mlmodel import Model, directory_size
from notebook_tracker.models.signature import ModelSignature

LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"  # MLflow-compatible run tag


@dataclass(frozen=True)
class ModelInfo:
    """What `log_model` returns: where the model is and what it is."""

    artifact_path: str
    flavors: dict[str, Any]
    model_uri: str
    model_uuid: str
    run_id: str
    signature: ModelSignature | None
    utc_time_created: str
    registered_model_version: int | None = None
    saved_input_example_info: dict[str, Any] | None = None


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    flavor: str | None = None,
    signature: ModelSignature | dict[str, Any] | bool | None = None,
    input_example: Any = None,
    pip_requirements: list[str] | None = None,
    extra_pip_requirements: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    **flavor_options: Any,
) -> Model:
    """Save `model` as a model directory at `path` (which must not exist yet, or be empty).

    The flavor is chosen from the object (scikit-learn estimators get `sklearn`; PythonModel
    instances, objects with `predict` and plain functions get `python_function`) unless
    `flavor=` names one. `signature` is inferred from `input_example` when not given (pass
    `signature=False` to store none). Flavor options: `serialization_format` and
    `pyfunc_predict_fn` (sklearn); `artifacts`, `model_config`, `code_paths` (python_function).
    """
    from notebook_tracker.models import environment, examples
    from notebook_tracker.models import flavors as flavor_registry

    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidParameter(
            f"Cannot save a model to {str(target)!r}: it already exists. Pick a new path or "
            "remove the old model first."
        )
    impl = (
        flavor_registry.get_flavor(flavor) if flavor else flavor_registry.flavor_for_object(model)
    )
    artifact_path = flavor_options.pop("_artifact_path", None)
    run_id = flavor_options.pop("_run_id", None)
    mlmodel = Model(artifact_path=artifact_path, run_id=run_id, metadata=metadata)
    target.mkdir(parents=True, exist_ok=True)
    try:
        requirements = impl.save(model, target, mlmodel, **flavor_options) or []
        if input_example is not None:
            mlmodel.saved_input_example_info = examples.save_example(target, input_example)
        mlmodel.signature = _signature(signature, input_example, target, mlmodel)
        environment.write_environment(
            target, requirements, pip_requirements, extra_pip_requirements
        )
        mlmodel.save(target)
        mlmodel.model_size_bytes = directory_size(target)
        mlmodel.save(target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return mlmodel


def _signature(
    given: ModelSignature | dict[str, Any] | bool | None,
    input_example: Any,
    model_dir: Path,
    mlmodel: Model,
) -> ModelSignature | None:
    from notebook_tracker.models import examples
    from notebook_tracker.models.signature import infer_signature

    if isinstance(given, ModelSignature):
        return given
    if isinstance(given, dict):
        return ModelSignature.from_dict(given)
    if given is False or input_example is None:
        return None
    data, params = examples.split_example(input_example)
    data = examples.normalize(data)
    try:
        inputs_only = infer_signature(data, None, params)
    except TrackerError as exc:
        warnings.warn(f"No signature stored: {exc.message}", stacklevel=3)
        return None
    output = None
    try:
        from notebook_tracker.models.flavors import load_predictor

        mlmodel.save(model_dir)
        output = load_predictor(model_dir, mlmodel).predict(data, params)
        return infer_signature(data, output, params)
    except TrackerError as exc:
        warnings.warn(f"Signature outputs not inferred: {exc.message}", stacklevel=3)
    except Exception as exc:  # the user's model failed on its own example: say so, keep going
        warnings.warn(
            f"The model failed to predict on its input example ({type(exc).__name__}: {exc}); "
            "the signature describes the inputs only.",
            stacklevel=3,
        )
    return inputs_only


def log_model(
    model: Any,
    name: str | None = None,
    signature: ModelSignature | dict[str, Any] | bool | None = None,
    input_example: Any = None,
    registered_model_name: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    **save_options: Any,
) -> ModelInfo:
    """Save `model` under `name` in the run's artifacts (the active run, or a new one).

    Returns a ModelInfo whose `model_uri` (`runs:/<run_id>/<name>`) loads it back; with
    `registered_model_name` it is also registered as a new version of that model.
    """
    from notebook_tracker import fluent
    from notebook_tracker.artifacts.paths import safe_relpath

    name = safe_relpath(name or artifact_path or "model")
    if not name:
        raise InvalidParameter("log_model needs a name for the model, e.g. name='model'.")
    if run_id is None:
        active = fluent.active_run() or fluent.start_run()
        run_id, client = active.info.run_id, active.client
    else:
        from notebook_tracker.client import TrackingClient

        client = TrackingClient()
    with tempfile.TemporaryDirectory(prefix="nt-log-model-") as tmp:
        local = Path(tmp) / "model"
        mlmodel = save_model(
            model,
            local,
            signature=signature,
            input_example=input_example,
            _artifact_path=name,
            _run_id=run_id,
            **save_options,
        )
        client.log_artifacts(run_id, local, name)
    _record_history(client, run_id, mlmodel)
    model_uri = f"runs:/{run_id}/{name}"
    version = None
    if registered_model_name:
        from notebook_tracker.models.registry import RegistryClient

        version = (
            RegistryClient(client.tracking_uri)
            .register_model(model_uri, registered_model_name)
            .version
        )
    return ModelInfo(
        artifact_path=name,
        flavors=mlmodel.flavors,
        model_uri=model_uri,
        model_uuid=mlmodel.model_uuid,
        run_id=run_id,
        signature=mlmodel.signature,
        utc_time_created=mlmodel.utc_time_created,
        registered_model_version=version,
        saved_input_example_info=mlmodel.saved_input_example_info,
    )


def _record_history(client: Any, run_id: str, mlmodel: Model) -> None:
    entry = mlmodel.to_dict()
    entry.pop("signature", None)
    try:
        history = json.loads(client.get_run(run_id).data.tags.get(LOG_MODEL_HISTORY_TAG, "[]"))
    except ValueError:
        history = []
    history.append(entry)
    text = json.dumps(history, default=str)
    while len(text) > 8000 and len(history) > 1:  # a tag's limit: keep the newest entries
        history.pop(0)
        text = json.dumps(history, default=str)
    if len(text) <= 8000:
        client.set_tag(run_id, LOG_MODEL_HISTORY_TAG, text)


def load_model(
    model_uri: str | os.PathLike[str],
    flavor: str | None = None,
    dst_path: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
) -> Any:
    """The model at `model_uri` as a PyFuncModel, or as its native object with `flavor=`.

    URIs: `runs:/<run_id>/<path>`, `models:/<name>/<version>`, `models:/<name>@<alias>`,
    `models:/<name>/latest`, a local path, `s3://bucket/path`.
    """
    from notebook_tracker.models.pyfunc_model import load_pyfunc_from_dir
    from notebook_tracker.models.uris import download_model

    uri = os.fspath(model_uri)
    run_jobs.wait_all()  # a model autologged in the background is written first
    model_dir = download_model(uri, dst_path, tracking_uri)
    if flavor is not None and flavor != "python_function":
        from notebook_tracker.models.flavors import load_native

        return load_native(model_dir, Model.load(model_dir), flavor)
    return load_pyfunc_from_dir(model_dir, uri)
