"""The `pytorch` flavor: a whole `torch.nn.Module` pickled with cloudpickle (or a TorchScript
module), plus state dicts as plain artifacts.

Layout and MLmodel fields are MLflow's: `data/model.pth` and `data/pickle_module_info.txt`,
`pytorch: {model_data: data, pytorch_version, code}` and a python_function flavor with
`loader_module: mlflow.pytorch`, `data: data`, `pickle_module_name`. So a model saved here loads
in `mlflow.pytorch.load_model`, and MLflow's (pickle or `pt2`) load here without MLflow.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from notebook_tracker.errors import InvalidParameter
from notebook_tracker.models.flavors.pyfunc import (
    add_code_to_path,
    copy_code_paths,
    python_version,
)
from notebook_tracker.models.mlmodel import PYFUNC_FLAVOR, Model

NAME = "pytorch"
# MLflow-compatible: the loader module MLflow reads for this layout.
LOADER_MODULES = ("mlflow.pytorch",)
DATA_DIR = "data"
MODEL_FILE = "model.pth"
EXPORTED_FILE = "model.pt2"
PICKLE_INFO_FILE = "pickle_module_info.txt"
STATE_DICT_FILE = "state_dict.pth"
# The pickle is plain cloudpickle output, readable by any unpickler once cloudpickle is
# installed; MLflow's loader imports the module named here, so we name the one it ships.
PICKLE_MODULE_NAME = "mlflow.pytorch.pickle_module"


def can_save(obj: Any) -> bool:
    if "torch" not in sys.modules:  # a Module's class would have imported it
        return False
    import torch

    return isinstance(obj, torch.nn.Module)


def save(
    obj: Any,
    path: Path,
    mlmodel: Model,
    code_paths: list[str] | None = None,
    **_: Any,
) -> list[str]:
    """Pickle the module under `path/data`; returns the pip requirements it needs."""
    import cloudpickle
    import torch

    from notebook_tracker.models.flavors import torch_pickle

    if not isinstance(obj, torch.nn.Module):
        raise InvalidParameter(
            f"The pytorch flavor saves torch.nn.Module objects, not a {type(obj).__name__}: "
            "save a state dict with save_state_dict(), or wrap the model in a Module."
        )
    data = path / DATA_DIR
    data.mkdir()
    model_file = data / MODEL_FILE
    if isinstance(obj, torch.jit.ScriptModule):
        torch.jit.save(obj, str(model_file))
    else:
        torch.save(obj, model_file, pickle_module=torch_pickle)
    (data / PICKLE_INFO_FILE).write_text(PICKLE_MODULE_NAME)
    code = copy_code_paths(code_paths, path)
    mlmodel.add_flavor(NAME, model_data=DATA_DIR, pytorch_version=str(torch.__version__), code=code)
    mlmodel.add_flavor(
        PYFUNC_FLAVOR,
        loader_module=LOADER_MODULES[0],
        data=DATA_DIR,
        pickle_module_name=PICKLE_MODULE_NAME,
        code=code,
        python_version=python_version(),
        env={"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
        model_config={"device": None},
    )
    return [
        f"torch=={_public_version(str(torch.__version__))}",
        f"cloudpickle=={cloudpickle.__version__}",
    ]


def _public_version(version: str) -> str:
    return version.split("+", 1)[0]  # "2.13.0+cpu" is not on the package index


def load_native(model_dir: Path, mlmodel: Model, device: str | None = None) -> Any:
    """The module itself, in eval mode (on `device` when given)."""
    import torch

    conf = mlmodel.flavors.get(NAME)
    pyfunc_conf = mlmodel.pyfunc_conf or {}
    if conf is None:
        conf = {"model_data": pyfunc_conf.get("data", DATA_DIR)}
    add_code_to_path(model_dir, conf)
    data = model_dir / conf.get("model_data", DATA_DIR)
    if (data / MODEL_FILE).exists():
        # Whole-model pickles need the full unpickler; only load models you trust.
        model = torch.load(data / MODEL_FILE, weights_only=False, map_location=device or "cpu")
        model.eval()
        return model
    if (data / EXPORTED_FILE).exists():
        return torch.export.load(str(data / EXPORTED_FILE)).module()
    if data.is_file():  # very old MLflow layouts pointed model_data at the file itself
        model = torch.load(data, weights_only=False, map_location=device or "cpu")
        model.eval()
        return model
    raise InvalidParameter(
        f"No PyTorch model in {data}: expected {MODEL_FILE} or {EXPORTED_FILE} there."
    )


class Predictor:
    """MLflow's pyfunc behaviour: a DataFrame in (as float32) gives a DataFrame out."""

    def __init__(self, model: Any, device: str = "cpu") -> None:
        self.model = model
        self.device = device

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import pandas as pd
        import torch

        if isinstance(model_input, pd.DataFrame):
            array = model_input.to_numpy(dtype=np.float32)
        elif isinstance(model_input, np.ndarray):
            array = model_input
        else:
            raise InvalidParameter(
                f"A PyTorch model takes a DataFrame or a numpy array, not a "
                f"{type(model_input).__name__}."
            )
        with torch.no_grad():
            output = self.model(torch.from_numpy(np.ascontiguousarray(array)).to(self.device))
        if not isinstance(output, torch.Tensor):
            raise InvalidParameter(
                f"The PyTorch model returned a {type(output).__name__}; serving needs a single "
                "tensor output."
            )
        values = output.cpu().numpy()
        if isinstance(model_input, pd.DataFrame):
            return pd.DataFrame(values, index=model_input.index)
        return values

    def unwrap(self) -> Any:
        return self.model


def load_predictor(model_dir: Path, mlmodel: Model) -> Predictor:
    config = (mlmodel.pyfunc_conf or {}).get("model_config") or {}
    device = config.get("device") or "cpu"
    return Predictor(load_native(model_dir, mlmodel, device=device), device)


def save_state_dict(
    state_dict: dict[str, Any], path: str | os.PathLike[str], **torch_save_kwargs: Any
) -> None:
    """Write `state_dict` as `path/state_dict.pth` (MLflow's layout; `path` must not exist)."""
    import torch

    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidParameter(
            f"Cannot save a state dict to {str(target)!r}: it already exists. Pick a new path."
        )
    if not isinstance(state_dict, dict):
        raise InvalidParameter(
            f"save_state_dict takes a dict (model.state_dict()), not a {type(state_dict).__name__}."
        )
    target.mkdir(parents=True, exist_ok=True)
    torch.save(state_dict, target / STATE_DICT_FILE, **torch_save_kwargs)


def load_state_dict_from(path: str | os.PathLike[str], **torch_load_kwargs: Any) -> dict[str, Any]:
    import torch

    file = Path(path) / STATE_DICT_FILE
    if not file.exists():
        raise InvalidParameter(
            f"No {STATE_DICT_FILE} in {path}: was it saved with save_state_dict?"
        )
    torch_load_kwargs.setdefault("map_location", "cpu")
    state: dict[str, Any] = torch.load(file, **torch_load_kwargs)
    return state
