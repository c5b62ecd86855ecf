"""IPython magics of notebook-tracker, registered by `%load_ext notebook_tracker`.

Each entry of `MAGICS_CLASSES` is "module:Class"; classes are imported only when loading.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

MAGICS_CLASSES = [
    "notebook_tracker.magics.tracking:TrackingMagics",
    "notebook_tracker.magics.projects:ProjectMagics",
    "notebook_tracker.magics.serving:ServingMagics",
    "notebook_tracker.magics.sweep:SweepMagics",
]

_loaded: dict[int, dict[str, Any]] = {}


def _import(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def load(ip: Any) -> None:
    """Register the magics on shell `ip` and start recording cell ids for lineage."""
    if id(ip) in _loaded:
        return
    from notebook_tracker.magics.history import ExecutionRecorder

    recorder = ExecutionRecorder()
    recorder.attach(ip)
    registered = []
    for path in MAGICS_CLASSES:
        try:
            cls = _import(path)
        except (ImportError, AttributeError) as error:
            warnings.warn(
                f"notebook-tracker: magics {path} are unavailable ({error}); the others load.",
                stacklevel=2,
            )
            continue
        instance = cls(shell=ip)
        if hasattr(instance, "recorder"):
            instance.recorder = recorder
        ip.register_magics(instance)
        registered.append(instance)
    _loaded[id(ip)] = {"recorder": recorder, "magics": registered}
    _arm_framework_autolog()


def _arm_framework_autolog() -> None:
    try:
        from notebook_tracker.frameworks import autolog

        autolog.arm()
    except Exception as error:  # frameworks are optional; the magics work without them
        warnings.warn(
            f"notebook-tracker: framework autologging unavailable ({error}).", stacklevel=2
        )


def unload(ip: Any) -> None:
    """Remove every magic `load` registered and stop recording."""
    state = _loaded.pop(id(ip), None)
    if state is None:
        return
    state["recorder"].detach()
    from notebook_tracker.frameworks import autolog

    autolog.disarm()
    manager = ip.magics_manager
    for instance in state["magics"]:
        for kind, names in instance.magics.items():
            table = manager.magics.get(kind, {})
            for name, fn in list(names.items()):
                if table.get(name) == fn:
                    del table[name]
        manager.registry.pop(type(instance).__name__, None)
