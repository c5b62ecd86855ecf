"""Framework autologging: which integrations exist, which are on, and with what options.

An integration is switched on by the user (`nt.autolog()`, `nt.sklearn.autolog(...)`), which
also makes it start a run when none is active, as MLflow does; or by a `%%track_run` cell
(`cell_scope()`), where it logs into the cell's run only. `disable=True` turns it off in both
cases and removes its patches. `NOTEBOOK_TRACKER_FRAMEWORK_AUTOLOG=0` keeps cells from turning
integrations on (explicit calls still work).

See `notebook_tracker.frameworks` for how an integration registers itself.
"""

from __future__ import annotations

import importlib
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from notebook_tracker import env, run_jobs
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.frameworks import patching

ENV_CELL_AUTOLOG = env.FRAMEWORK_AUTOLOG
AUTOLOG_TAG = "notebook_tracker.autolog"  # set on runs autologging started itself

# name -> module implementing it (NAME, MODULES, OPTIONS, patch(patcher, state)).
BUILTIN: dict[str, str] = {
    "sklearn": "notebook_tracker.frameworks.sklearn",
    "xgboost": "notebook_tracker.frameworks.xgboost",
    "lightgbm": "notebook_tracker.frameworks.lightgbm",
    "lightning": "notebook_tracker.frameworks.lightning",
    "keras": "notebook_tracker.frameworks.keras",
}
COMMON_OPTIONS: dict[str, Any] = {
    "log_models": True,
    "log_input_examples": False,
    "log_model_signatures": True,
    "log_datasets": False,
    "exclusive": False,
    "silent": False,
}

_lock = threading.RLock()
_states: dict[str, IntegrationState] = {}
_extra: dict[str, str] = {}  # integrations registered at run time
_cell_depth = 0


@dataclass
class IntegrationState:
    """One integration's switches, options and patches."""

    name: str
    module: Any
    options: dict[str, Any] = field(default_factory=dict)
    user_enabled: bool = False  # nt.<fw>.autolog() called (and not disabled since)
    user_disabled: bool = False  # autolog(disable=True): cells leave it off too
    patcher: patching.Patcher | None = None
    on_import: Any = None  # the import hook `_install` registered, for `_uninstall`

    def active(self) -> bool:
        """Should a hooked call log? Checked at every call, so it is cheap."""
        if self.user_disabled:
            return False
        return self.user_enabled or _cell_depth > 0

    def option(self, key: str) -> Any:
        return self.options.get(key, self.defaults().get(key))

    def defaults(self) -> dict[str, Any]:
        return {**COMMON_OPTIONS, **getattr(self.module, "OPTIONS", {})}

    def may_start_runs(self) -> bool:
        return self.user_enabled


def register(name: str, module: str) -> None:
    """Make the integration in `module` (a dotted module path) known as `name`."""
    with _lock:
        _extra[name] = module


def known() -> dict[str, str]:
    return {**BUILTIN, **_extra}


def state(name: str) -> IntegrationState:
    with _lock:
        if name not in _states:
            modules = known()
            if name not in modules:
                raise InvalidParameter(
                    f"No autologging integration named {name!r}: known ones are "
                    f"{', '.join(sorted(modules))}."
                )
            _states[name] = IntegrationState(name, importlib.import_module(modules[name]))
        return _states[name]


def _install(st: IntegrationState) -> None:
    """Patch the framework now if it is imported, else as soon as it is."""
    if st.patcher is not None:
        return
    st.patcher = patching.Patcher(st.name, st.active, lambda: is_silent(st))
    patcher = st.patcher

    def on_import(module_name: str) -> None:
        st.module.patch(patcher, st, module_name)

    st.on_import = on_import
    for top in st.module.MODULES:
        patching.when_imported(top, on_import)


def _uninstall(st: IntegrationState) -> None:
    if st.patcher is None:
        return
    for top in st.module.MODULES:
        patching.forget_import_hook(top, st.on_import)
    st.patcher.undo()
    st.patcher = None


def configure(name: str, disable: bool = False, **options: Any) -> None:
    """`nt.<name>.autolog(...)`: turn the integration on with `options`, or off."""
    st = state(name)
    unknown = sorted(set(options) - set(st.defaults()))
    if unknown:
        raise InvalidParameter(
            f"{name} autolog has no option {', '.join(map(repr, unknown))}: its options are "
            f"disable, {', '.join(sorted(st.defaults()))}."
        )
    with _lock:
        if disable:
            st.user_enabled, st.user_disabled = False, True
            _uninstall(st)
            return
        st.options = dict(options)
        st.user_enabled, st.user_disabled = True, False
        _install(st)


def autolog_all(disable: bool = False, **options: Any) -> list[str]:
    """`nt.autolog(...)`: every known integration whose framework is installed; common options
    (`log_models`, `silent`, `exclusive`, ...) apply to each. Returns the integrations set."""
    bad = sorted(set(options) - set(COMMON_OPTIONS))
    if bad:
        raise InvalidParameter(
            f"nt.autolog() takes the options common to all frameworks "
            f"({', '.join(sorted(COMMON_OPTIONS))}, disable), not {', '.join(map(repr, bad))}; "
            "set framework-specific ones with nt.<framework>.autolog(...)."
        )
    done = []
    for name in sorted(known()):
        st = state(name)
        if not disable and not _installed(st):
            continue
        configure(name, disable=disable, **options)
        done.append(name)
    return done


def _installed(st: IntegrationState) -> bool:
    return any(importlib.util.find_spec(m) is not None for m in st.module.MODULES)


def cells_enabled() -> bool:
    return (env.raw(ENV_CELL_AUTOLOG) or "1").strip().lower() not in ("0", "false", "no", "off")


@contextmanager
def cell_scope() -> Iterator[None]:
    """While a `%%track_run` cell runs: integrations log into its run (not when disabled)."""
    global _cell_depth
    if not cells_enabled():
        yield
        return
    with _lock:
        _cell_depth += 1
        for name in known():
            try:
                st = state(name)
                if not st.user_disabled:
                    _install(st)
            except Exception as error:  # a broken integration must not break the cell
                warnings.warn(
                    f"notebook-tracker: {name} autologging unavailable: {error}", stacklevel=2
                )
    try:
        yield
    finally:
        with _lock:
            _cell_depth -= 1


def arm() -> None:
    """At `%load_ext`: patch now (and on import) so that names imported before the first
    `%%track_run` cell are the patched ones; hooked calls stay inert outside cells."""
    if not cells_enabled():
        return
    with _lock:
        for name in known():
            try:
                st = state(name)
                if not st.user_disabled:
                    _install(st)
            except Exception as error:
                warnings.warn(
                    f"notebook-tracker: {name} autologging unavailable: {error}", stacklevel=2
                )


def disarm() -> None:
    """At `%unload_ext`: remove patches the user did not ask for."""
    with _lock:
        for st in list(_states.values()):
            if not st.user_enabled:
                _uninstall(st)


def is_silent(st: IntegrationState) -> bool:
    return bool(st.option("silent"))


@contextmanager
def training_run(st: IntegrationState) -> Iterator[str | None]:
    """The run a hooked training call logs into: the active one, else (when the user enabled
    autologging) a new run ended when the call ends. Yields None when nothing should be
    logged (exclusive mode with a user's run, or no run outside a user's opt-in)."""
    from notebook_tracker import fluent

    active = fluent.active_run()
    if active is not None:
        ours = active.data.tags.get(AUTOLOG_TAG) is not None
        yield None if (st.option("exclusive") and not ours) else active.info.run_id
        return
    if not st.may_start_runs():
        yield None
        return
    run = fluent.start_run(tags={AUTOLOG_TAG: st.name})
    # The fit returns as soon as it is done; the run ends once its background logging is.
    run_jobs.defer_end(run.info.run_id)
    status = "FINISHED"
    try:
        yield run.info.run_id
    except BaseException:
        status = "FAILED"
        raise
    finally:
        if fluent.active_run() is not None and fluent.active_run().info.run_id == run.info.run_id:  # type: ignore[union-attr]
            fluent.end_run(status)


@contextmanager
def quietly(st: IntegrationState) -> Iterator[None]:
    """`silent=True`: our warnings and the framework's noise while logging are hidden."""
    if not is_silent(st):
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def reset_for_tests() -> None:
    global _cell_depth
    run_jobs.wait_all()
    with _lock:
        for st in list(_states.values()):
            _uninstall(st)
        _states.clear()
        _cell_depth = 0
