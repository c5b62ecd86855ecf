"""`nt.pytorch`: the `pytorch` flavor (whole modules, state dicts) and, as in MLflow,
`autolog()` for PyTorch Lightning (see `notebook_tracker.frameworks.lightning`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from notebook_tracker.frameworks import flavor_api
from notebook_tracker.frameworks.lightning import autolog  # noqa: F401  (MLflow's name for it)

FLAVOR = "pytorch"


def save_model(
    pytorch_model: Any,
    path: str | os.PathLike[str],
    code_paths: list[str] | None = None,
    **options: Any,
) -> Any:
    """Save a `torch.nn.Module` (pickled whole with cloudpickle; TorchScript modules as such)
    to `path`. `code_paths`: files or folders the model's classes import, copied along."""
    return flavor_api.save_model(FLAVOR, pytorch_model, path, code_paths=code_paths, **options)


def log_model(pytorch_model: Any, name: str | None = "model", **options: Any) -> Any:
    """Log a `torch.nn.Module` into the active run (see `nt.models.log_model` for options)."""
    return flavor_api.log_model(FLAVOR, pytorch_model, name, **options)


def load_model(
    model_uri: str | os.PathLike[str],
    dst_path: str | os.PathLike[str] | None = None,
    device: str | None = None,
) -> Any:
    """The `torch.nn.Module`, in eval mode, on `device` (default: CPU)."""
    return flavor_api.load_model(FLAVOR, model_uri, dst_path, device=device)


def save_state_dict(
    state_dict: dict[str, Any], path: str | os.PathLike[str], **kwargs: Any
) -> None:
    """`path/state_dict.pth`, as `mlflow.pytorch.save_state_dict` writes it."""
    from notebook_tracker.models.flavors.pytorch import save_state_dict as save

    save(state_dict, path, **kwargs)


def log_state_dict(
    state_dict: dict[str, Any], artifact_path: str, run_id: str | None = None, **kwargs: Any
) -> str:
    """Log a state dict under `artifact_path` in the run; returns its URI (`runs:/...`)."""
    from notebook_tracker import fluent

    run = fluent.active_run() if run_id is None else None
    if run_id is None:
        run = run or fluent.start_run()
        run_id, client = run.info.run_id, run.client
    else:
        from notebook_tracker.client import TrackingClient

        client = TrackingClient()
    with tempfile.TemporaryDirectory(prefix="nt-state-dict-") as tmp:
        local = Path(tmp) / "state_dict"
        save_state_dict(state_dict, local, **kwargs)
        client.log_artifacts(run_id, local, artifact_path)
    return f"runs:/{run_id}/{artifact_path}"


def load_state_dict(state_dict_uri: str | os.PathLike[str], **kwargs: Any) -> dict[str, Any]:
    """A state dict saved by `save_state_dict`/`log_state_dict` (ours or MLflow's)."""
    from notebook_tracker.models.flavors.pytorch import load_state_dict_from
    from notebook_tracker.models.uris import download_to

    with tempfile.TemporaryDirectory(prefix="nt-state-dict-") as tmp:
        local = download_to(os.fspath(state_dict_uri), Path(tmp) / "state_dict")
        return load_state_dict_from(local, **kwargs)
