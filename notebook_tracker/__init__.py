"""notebook-tracker: a cell is a run. Experiment tracking, projects and models for Jupyter.

`import notebook_tracker as nt` is cheap: the fluent API's names resolve on first use, and
pandas, matplotlib, SQLAlchemy and IPython load only when a call needs them.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_FLUENT = (
    "set_tracking_uri",
    "get_tracking_uri",
    "set_experiment",
    "create_experiment",
    "get_experiment",
    "get_experiment_by_name",
    "search_experiments",
    "start_run",
    "active_run",
    "last_active_run",
    "end_run",
    "log_param",
    "log_params",
    "log_metric",
    "log_metrics",
    "set_tag",
    "set_tags",
    "delete_tag",
    "log_artifact",
    "log_artifacts",
    "log_text",
    "log_dict",
    "log_figure",
    "log_table",
    "get_artifact_uri",
    "get_run",
    "search_runs",
    "get_metric_history",
    "delete_run",
    "restore_run",
    "flush",
    "ActiveRun",
)
_ELSEWHERE = {
    "TrackingClient": "notebook_tracker.client",
    "TrackerError": "notebook_tracker.errors",
    "RunStatus": "notebook_tracker.entities",
    "ViewType": "notebook_tracker.entities",
    "register_model": "notebook_tracker.models.registry",
    "enable_system_metrics_logging": "notebook_tracker.system_metrics",
    "disable_system_metrics_logging": "notebook_tracker.system_metrics",
    "set_system_metrics_sampling_interval": "notebook_tracker.system_metrics",
    "set_system_metrics_samples_before_logging": "notebook_tracker.system_metrics",
    "set_system_metrics_node_id": "notebook_tracker.system_metrics",
    "set_registered_model_alias": "notebook_tracker.models.registry",
    "sweep": "notebook_tracker.sweeps.api",
    "autolog": "notebook_tracker.frameworks.api",
}
_SUBMODULES = ("models", "system_metrics", "pyfunc")  # `nt.models.log_model(...)` without an import
# `nt.sklearn.autolog(...)`, `nt.xgboost.log_model(...)`: the integration modules, which
# import their framework only when called.
_FRAMEWORKS = {
    "sklearn": "notebook_tracker.frameworks.sklearn",
    "xgboost": "notebook_tracker.frameworks.xgboost",
    "lightgbm": "notebook_tracker.frameworks.lightgbm",
    "pytorch": "notebook_tracker.frameworks.pytorch",
    "lightning": "notebook_tracker.frameworks.lightning",
    "keras": "notebook_tracker.frameworks.keras",
    "spark": "notebook_tracker.frameworks.spark",
}

__all__ = [*_FLUENT, *_ELSEWHERE]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _FLUENT:
        module = importlib.import_module("notebook_tracker.fluent")
    elif name in _ELSEWHERE:
        module = importlib.import_module(_ELSEWHERE[name])
    elif name in _SUBMODULES:
        return importlib.import_module(f"notebook_tracker.{name}")
    elif name in _FRAMEWORKS:
        return importlib.import_module(_FRAMEWORKS[name])
    else:
        raise AttributeError(f"module 'notebook_tracker' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter server discovery hook; the extension module loads only when a server starts."""
    return [{"module": "notebook_tracker.server.extension"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt sidebar (shipped inside the wheel)."""
    return [{"src": "labextension", "dest": "notebook-tracker"}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext notebook_tracker`: register the magics."""
    from notebook_tracker import magics

    magics.load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext notebook_tracker`: remove the magics and their hooks."""
    from notebook_tracker import magics

    magics.unload(ipython)
