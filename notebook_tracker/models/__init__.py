"""Models: the MLmodel format, flavors, signatures, the registry and serving.

    import notebook_tracker as nt
    info = nt.models.log_model(
        model, "model", input_example=X.head(), registered_model_name="churn"
    )
    nt.models.set_registered_model_alias("churn", "champion", info.registered_model_version)
    nt.models.load_model("models:/churn@champion").predict(X)

Names resolve on first use, so importing this package loads neither pandas nor a flavor.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "save_model": "notebook_tracker.models.api",
    "log_model": "notebook_tracker.models.api",
    "load_model": "notebook_tracker.models.api",
    "ModelInfo": "notebook_tracker.models.api",
    "Model": "notebook_tracker.models.mlmodel",
    "PyFuncModel": "notebook_tracker.models.pyfunc_model",
    "PythonModel": "notebook_tracker.models.flavors.pyfunc",
    "PythonModelContext": "notebook_tracker.models.flavors.pyfunc",
    "register_flavor": "notebook_tracker.models.flavors",
    "ModelSignature": "notebook_tracker.models.signature",
    "Schema": "notebook_tracker.models.signature",
    "ColSpec": "notebook_tracker.models.signature",
    "TensorSpec": "notebook_tracker.models.signature",
    "ParamSpec": "notebook_tracker.models.signature",
    "ParamSchema": "notebook_tracker.models.signature",
    "infer_signature": "notebook_tracker.models.signature",
    "SchemaError": "notebook_tracker.models.enforce",
    "RegistryClient": "notebook_tracker.models.registry",
    "register_model": "notebook_tracker.models.registry",
    "set_registered_model_alias": "notebook_tracker.models.registry",
    "delete_registered_model_alias": "notebook_tracker.models.registry",
    "get_model_version_by_alias": "notebook_tracker.models.registry",
    "get_registered_model": "notebook_tracker.models.registry",
    "get_model_version": "notebook_tracker.models.registry",
    "search_registered_models": "notebook_tracker.models.registry",
    "search_model_versions": "notebook_tracker.models.registry",
    "RegisteredModel": "notebook_tracker.entities.registry",
    "ModelVersion": "notebook_tracker.entities.registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    import importlib

    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'notebook_tracker.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
