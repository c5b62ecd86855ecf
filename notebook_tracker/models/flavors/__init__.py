"""Flavors: how a kind of model object is saved and loaded.

Built in: `sklearn`, `xgboost`, `lightgbm`, `pytorch`, `keras`, `spark` and `python_function`
(PythonModel, objects with `predict`, callables).
Third-party flavors plug in through the entry point group `notebook_tracker.flavors`, or at
run time with `register_flavor`. A flavor is a module or object with:

- `NAME` — the flavor name written under `flavors:` in MLmodel;
- `save(obj, path, mlmodel, **kwargs)` — write files into the directory `path`, call
  `mlmodel.add_flavor(NAME, ...)` and, to be servable, add a `python_function` flavor whose
  `loader_module` names a module with `_load_pyfunc(path)`; may return pip requirements;
- optional `can_save(obj) -> bool` (so `save_model` picks it without `flavor=`),
  `load_native(model_dir, mlmodel)` (what `load_model(uri, flavor=NAME)` returns),
  `load_predictor(model_dir, mlmodel)` and `LOADER_MODULES` (loader module names it serves).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from notebook_tracker.errors import InvalidParameter, NotFound
from notebook_tracker.models.mlmodel import Model

ENTRY_POINT_GROUP = "notebook_tracker.flavors"
_BUILTIN = {
    # Before sklearn: their scikit-learn-API models are scikit-learn estimators too.
    "xgboost": "notebook_tracker.models.flavors.xgboost",
    "lightgbm": "notebook_tracker.models.flavors.lightgbm",
    "sklearn": "notebook_tracker.models.flavors.sklearn",
    "python_function": "notebook_tracker.models.flavors.pyfunc",
    "pytorch": "notebook_tracker.models.flavors.pytorch",
    "keras": "notebook_tracker.models.flavors.keras",
    "spark": "notebook_tracker.models.flavors.spark",
}
# MLflow-compatible: the loader module MLflow writes for PythonModel pickles.
_PYFUNC_LOADERS = ("notebook_tracker.models.flavors.pyfunc", "mlflow.pyfunc.model")

_registered: dict[str, Any] = {}
_plugins: dict[str, Any] | None = None


def register_flavor(flavor: Any, name: str | None = None) -> None:
    """Make `flavor` available in this process (what an entry point does at install time)."""
    flavor_name = name or getattr(flavor, "NAME", None) or getattr(flavor, "name", None)
    if not flavor_name or not callable(getattr(flavor, "save", None)):
        raise InvalidParameter("A flavor needs a NAME and a save(obj, path, mlmodel) function.")
    _registered[flavor_name] = flavor


def _load_plugins() -> dict[str, Any]:
    global _plugins
    if _plugins is None:
        from importlib.metadata import entry_points

        found: dict[str, Any] = {}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                found[ep.name] = ep.load()
            except Exception as exc:  # a broken plug-in must not break the built-in flavors
                import warnings

                warnings.warn(f"Flavor plug-in {ep.name!r} failed to load: {exc}", stacklevel=2)
        _plugins = found
    return _plugins


def get_flavor(name: str) -> Any:
    if name in _registered:
        return _registered[name]
    if name in _BUILTIN:
        return importlib.import_module(_BUILTIN[name])
    plugins = _load_plugins()
    if name in plugins:
        return plugins[name]
    known = sorted({*_BUILTIN, *_registered, *plugins})
    raise NotFound(f"Unknown flavor {name!r}: known flavors are {', '.join(known)}.")


def flavor_for_object(obj: Any) -> Any:
    """The flavor to save `obj` with: registered/plug-in flavors first, then sklearn, then
    python_function for anything with a predict method or that can be called."""
    candidates = [*_registered.values(), *_load_plugins().values()]
    candidates.extend(get_flavor(name) for name in _BUILTIN if name != "python_function")
    for flavor in candidates:
        check = getattr(flavor, "can_save", None)
        if check is not None and check(obj):
            return flavor
    pyfunc = get_flavor("python_function")
    if pyfunc.can_save(obj):
        return pyfunc
    raise InvalidParameter(
        f"No flavor can save a {type(obj).__name__}: give a PythonModel, an object with "
        "predict(), a function, or a scikit-learn estimator, or pass flavor=<name>."
    )


def _flavor_for_loader(loader_module: str) -> Any | None:
    if loader_module in _PYFUNC_LOADERS:
        return get_flavor("python_function")
    # Built-ins first: scanning installed packages for plug-ins costs a serving cold start.
    builtin = [name for name in _BUILTIN if name != "python_function"]
    groups: tuple[Callable[[], list[Any]], ...] = (
        lambda: [get_flavor(n) for n in builtin],
        lambda: list(_registered.values()),
        lambda: list(_load_plugins().values()),
    )
    for group in groups:
        for flavor in group():
            if loader_module in getattr(flavor, "LOADER_MODULES", ()):
                return flavor
    return None


def load_predictor(model_dir: Path, mlmodel: Model) -> Any:
    """An object with `predict(model_input, params=None)` for the model in `model_dir`."""
    conf = mlmodel.pyfunc_conf
    if conf is None:
        raise InvalidParameter(
            f"The model has no python_function flavor (it has {', '.join(mlmodel.flavors)}), "
            "so it cannot be loaded generically or served: load it with its own flavor, "
            "load_model(uri, flavor=...)."
        )
    loader = conf.get("loader_module") or ""
    flavor = _flavor_for_loader(loader)
    if flavor is not None and hasattr(flavor, "load_predictor"):
        return flavor.load_predictor(model_dir, mlmodel)
    return _foreign_loader(loader, model_dir, conf)


def _foreign_loader(loader: str, model_dir: Path, conf: dict[str, Any]) -> Any:
    """Any other loader module, by the `_load_pyfunc(data_path)` convention."""
    from notebook_tracker.models.flavors.pyfunc import Predictor, add_code_to_path

    add_code_to_path(model_dir, conf)
    try:
        module = importlib.import_module(loader)
    except ImportError as exc:
        raise InvalidParameter(
            f"The model's loader module {loader!r} cannot be imported ({exc}): install the "
            "package that provides it."
        ) from None
    data_path = model_dir / conf["data"] if conf.get("data") else model_dir
    loaded = module._load_pyfunc(str(data_path))  # noqa: SLF001 (MLflow's loader-module protocol)
    return Predictor(loaded, "predict_object")


def load_native(model_dir: Path, mlmodel: Model, flavor: str) -> Any:
    impl = get_flavor(flavor)
    mlmodel.get_flavor(flavor)  # a clear error when the model lacks it
    loader = getattr(impl, "load_native", None)
    if loader is None:
        raise InvalidParameter(f"The {flavor!r} flavor cannot load a native model object.")
    return loader(model_dir, mlmodel)
