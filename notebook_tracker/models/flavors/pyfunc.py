"""The `python_function` flavor for Python objects: PythonModel subclasses, objects with
`predict`, and plain callables, serialized with cloudpickle.

A model saved here names this module as its `loader_module`, so MLflow's
`mlflow.pyfunc.load_model` loads it too (it calls `_load_pyfunc(path)` below). Models that
MLflow saved with a PythonModel (`loader_module: mlflow.pyfunc.model`) load through
`load_mlflow_python_model`, without importing MLflow unless the pickle itself needs it.
"""

from __future__ import annotations

import inspect
import shutil
import sys
from pathlib import Path
from typing import Any

from notebook_tracker.errors import InvalidParameter
from notebook_tracker.models.mlmodel import PYFUNC_FLAVOR, Model

NAME = PYFUNC_FLAVOR
LOADER_MODULE = __name__
PICKLE_FILE = "python_model.pkl"
KINDS = ("python_model", "predict_object", "callable")


class PythonModelContext:
    """What `PythonModel.load_context` receives: artifact names -> local paths, and config."""

    def __init__(
        self, artifacts: dict[str, str] | None = None, model_config: dict[str, Any] | None = None
    ) -> None:
        self.artifacts = dict(artifacts or {})
        self.model_config = dict(model_config or {})

    def __repr__(self) -> str:
        return f"PythonModelContext(artifacts={self.artifacts!r})"


class PythonModel:
    """Base class for custom models: override `predict` (and `load_context` if needed).

    `predict(self, context, model_input, params=None)`; the `context` argument may be left
    out of the signature, as in MLflow 3.
    """

    def load_context(self, context: PythonModelContext) -> None:
        """Load artifacts (`context.artifacts[name]` is a local path) before predictions."""

    def predict(self, context: PythonModelContext, model_input: Any, params: Any = None) -> Any:
        raise NotImplementedError("Subclasses of PythonModel implement predict().")


def is_python_model(obj: Any) -> bool:
    """Ours or MLflow's PythonModel (matched by class name so MLflow is never imported)."""
    for cls in type(obj).__mro__:
        if cls.__name__ == "PythonModel" and cls.__module__ in (__name__, "mlflow.pyfunc.model"):
            return True
    return False


def can_save(obj: Any) -> bool:
    return is_python_model(obj) or callable(getattr(obj, "predict", None)) or callable(obj)


def kind_of(obj: Any) -> str:
    if is_python_model(obj):
        return "python_model"
    if callable(getattr(obj, "predict", None)):
        return "predict_object"
    if callable(obj):
        return "callable"
    raise InvalidParameter(
        f"Cannot save a {type(obj).__name__} as a model: give a PythonModel subclass instance, "
        "an object with a predict() method, or a function taking the model input."
    )


# -- saving -----------------------------------------------------------------------------------


def save(
    obj: Any,
    path: Path,
    mlmodel: Model,
    artifacts: dict[str, str] | None = None,
    model_config: dict[str, Any] | None = None,
    code_paths: list[str] | None = None,
    **_: Any,
) -> list[str]:
    """Write `obj` into the model directory `path`; returns the pip requirements it needs."""
    import cloudpickle

    kind = kind_of(obj)
    with open(path / PICKLE_FILE, "wb") as f:
        cloudpickle.dump(obj, f)
    conf: dict[str, Any] = {
        "loader_module": LOADER_MODULE,
        "python_model": PICKLE_FILE,
        "model_kind": kind,
        "cloudpickle_version": cloudpickle.__version__,
        "python_version": python_version(),
        "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
        "code": copy_code_paths(code_paths, path),
        "streamable": False,
    }
    if artifacts:
        conf["artifacts"] = copy_artifacts(artifacts, path)
    if model_config:
        conf["model_config"] = dict(model_config)
    mlmodel.add_flavor(NAME, **conf)
    return ["cloudpickle", "numpy", "pandas", "notebook-tracker"]


def python_version() -> str:
    return ".".join(map(str, sys.version_info[:3]))


def copy_code_paths(code_paths: list[str] | None, path: Path) -> str | None:
    if not code_paths:
        return None
    code_dir = path / "code"
    code_dir.mkdir(exist_ok=True)
    for item in code_paths:
        src = Path(item)
        if not src.exists():
            raise InvalidParameter(f"code_paths entry {item!r} does not exist.")
        if src.is_dir():
            shutil.copytree(src, code_dir / src.name, dirs_exist_ok=True)
        else:
            shutil.copy2(src, code_dir / src.name)
    return "code"


def copy_artifacts(artifacts: dict[str, str], path: Path) -> dict[str, dict[str, str]]:
    """Copy each named artifact (a local path or a model/artifact URI) under `artifacts/`."""
    from notebook_tracker.models.uris import download_to

    out = {}
    root = path / "artifacts"
    root.mkdir(exist_ok=True)
    for name, uri in artifacts.items():
        local = download_to(str(uri), root / name)
        rel = Path(local).relative_to(path).as_posix()
        out[name] = {"path": rel, "uri": str(uri)}
    return out


# -- loading ----------------------------------------------------------------------------------


class Predictor:
    """A loaded Python object behind one `predict(model_input, params=None)` call."""

    def __init__(self, obj: Any, kind: str, context: PythonModelContext | None = None) -> None:
        self.obj = obj
        self.kind = kind
        self.context = context or PythonModelContext()
        fn = obj.predict if kind in ("python_model", "predict_object") else obj
        self._fn = fn
        names, positional = _parameters(fn)
        self._takes_params = "params" in names
        self._takes_context = kind == "python_model" and (
            "context" in names or (positional >= 2 and not self._takes_params) or positional >= 3
        )

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        args = (self.context, model_input) if self._takes_context else (model_input,)
        if self._takes_params:
            return self._fn(*args, params=params)
        return self._fn(*args)

    def unwrap(self) -> Any:
        return self.obj


def _parameters(fn: Any) -> tuple[set[str], int]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return set(), 1
    positional = sum(
        1 for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    )
    return set(sig.parameters), positional


def add_code_to_path(model_dir: Path, conf: dict[str, Any]) -> None:
    code = conf.get("code")
    if not code:
        return
    code_dir = str(model_dir / code)
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)


def artifacts_of(model_dir: Path, conf: dict[str, Any]) -> dict[str, str]:
    return {
        name: str(model_dir / info["path"]) for name, info in (conf.get("artifacts") or {}).items()
    }


def load_predictor(model_dir: Path, mlmodel: Model) -> Predictor:
    """Our flavor's loader; also reads MLflow's PythonModel layout (same file names)."""
    import cloudpickle

    conf = mlmodel.get_flavor(NAME)
    add_code_to_path(model_dir, conf)
    if conf.get("model_code_path"):
        raise InvalidParameter(
            "This model is a 'model from code' (its MLmodel names model_code_path), which "
            "needs MLflow to load: pip install mlflow."
        )
    if conf.get("compression"):
        raise InvalidParameter(
            f"This model's pickle is compressed ({conf['compression']}), which is not "
            "supported here: save it without compression."
        )
    pickle_path = model_dir / conf.get("python_model", PICKLE_FILE)
    with open(pickle_path, "rb") as f:
        obj = cloudpickle.load(f)
    kind = conf.get("model_kind") or kind_of(obj)
    context = PythonModelContext(artifacts_of(model_dir, conf), conf.get("model_config"))
    if kind == "python_model":
        obj.load_context(context)
    return Predictor(obj, kind, context)


def load_native(model_dir: Path, mlmodel: Model) -> Any:
    return load_predictor(model_dir, mlmodel).unwrap()


def _load_pyfunc(data_path: str, model_config: dict[str, Any] | None = None) -> Predictor:
    """Entry point for loaders that follow the `loader_module` convention (MLflow's too)."""
    model_dir = Path(data_path)
    if model_dir.is_file():
        model_dir = model_dir.parent
    mlmodel = Model.load(model_dir)
    if model_config:
        conf = mlmodel.get_flavor(NAME)
        conf["model_config"] = {**(conf.get("model_config") or {}), **model_config}
    return load_predictor(model_dir, mlmodel)
