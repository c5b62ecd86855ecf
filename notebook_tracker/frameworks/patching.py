"""Reversible, thread-safe patches whose failures never reach the user's code.

`Patcher.wrap(owner, "fit", hook)` replaces `owner.fit` with a wrapper that calls
`hook(call, original, *args, **kwargs)`. The rules the wrapper enforces, whatever the hook does:

- the value the original returned is the value the caller gets;
- an exception raised by the original propagates unchanged; one raised by the hook (logging)
  becomes a warning, and the original still runs exactly once;
- while a hooked call of an integration runs in this thread, nested hooked calls of the same
  integration (Pipeline.fit calling each step's fit) go straight to the original;
- `Patcher.undo()` restores every attribute it replaced.

Post-import hooks (`when_imported`) let an integration patch a framework the moment it is
imported, so `nt.autolog()` may come before `import xgboost`.
"""

from __future__ import annotations

import contextvars
import functools
import importlib.abc
import importlib.util
import inspect
import sys
import threading
import types
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_inside: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "nt_autolog_inside", default=frozenset()
)
_lock = threading.RLock()
_MISSING = object()


class AutologWarning(UserWarning):
    """Something autologging tried to log failed; the user's code ran as it would without us."""


def inside(integration: str) -> bool:
    """True while a hooked call of `integration` runs in this thread/context."""
    return integration in _inside.get()


@contextmanager
def _entered(integration: str) -> Iterator[None]:
    token = _inside.set(_inside.get() | {integration})
    try:
        yield
    finally:
        _inside.reset(token)


def scope(integration: str) -> Any:
    """Calls made inside are not hooked by `integration` (as inside a hooked call): for work
    an integration does on another thread, e.g. predicting with a copy of a fitted model."""
    return _entered(integration)


def warn(integration: str, what: str, error: BaseException) -> None:
    warnings.warn(
        f"notebook-tracker {integration} autologging: {what} failed "
        f"({type(error).__name__}: {error}); training is unaffected.",
        AutologWarning,
        stacklevel=3,
    )


class _Call:
    """What a hook knows about the call it wraps; `original` records its outcome."""

    __slots__ = ("called", "error", "result")

    def __init__(self) -> None:
        self.called = False
        self.result: Any = _MISSING
        self.error: BaseException | None = None


def _safe_wrapper(
    integration: str,
    original: Callable[..., Any],
    hook: Callable[..., Any],
    is_active: Callable[[], bool],
    is_silent: Callable[[], bool],
) -> Callable[..., Any]:
    @functools.wraps(original)
    def patched(*args: Any, **kwargs: Any) -> Any:
        if integration in _inside.get() or not is_active():
            return original(*args, **kwargs)
        call = _Call()

        def run_original(*a: Any, **k: Any) -> Any:
            if call.called:  # a hook may call it once only: the user's code runs once
                return call.result
            call.called = True
            try:
                call.result = original(*a, **k)
            except BaseException as error:
                call.error = error
                raise
            return call.result

        run_original.__wrapped__ = original  # type: ignore[attr-defined]  # its signature
        with _entered(integration):
            try:
                hook(run_original, *args, **kwargs)
            except BaseException as error:
                if call.error is not None:
                    raise  # the user's own failure (or an interrupt inside it)
                if not isinstance(error, Exception):
                    raise  # KeyboardInterrupt during logging: the user asked to stop
                if not is_silent():
                    warn(integration, getattr(original, "__qualname__", "logging"), error)
        if not call.called:
            return original(*args, **kwargs)
        return call.result

    patched.__nt_original__ = original  # type: ignore[attr-defined]
    patched.__nt_guard__ = integration  # type: ignore[attr-defined]
    return patched


def _callable_of(raw: Any) -> Callable[..., Any]:
    if inspect.isfunction(raw) or not hasattr(raw, "__get__"):
        return raw

    @functools.wraps(getattr(raw, "fn", raw))
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        return raw.__get__(self, type(self))(*args, **kwargs)

    return call


class _GuardedDescriptor:
    """A method descriptor (not a plain function) whose calls go through `wrapper`."""

    def __init__(self, raw: Any, wrapper: Callable[..., Any]) -> None:
        self._raw = raw
        self._wrapper = wrapper
        self.__doc__ = getattr(raw, "__doc__", None)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self._raw.__get__(obj, objtype)
        self._raw.__get__(obj, objtype)  # AttributeError when the method is unavailable
        return types.MethodType(self._wrapper, obj)


class Patcher:
    """The patches of one integration; all undone together."""

    def __init__(
        self,
        integration: str,
        is_active: Callable[[], bool],
        is_silent: Callable[[], bool] = lambda: False,
    ) -> None:
        self.integration = integration
        self.is_active = is_active
        self.is_silent = is_silent
        self._undo: list[tuple[Any, str, Any]] = []
        self._done: set[tuple[int, str]] = set()

    def wrap(
        self, owner: Any, name: str, hook: Callable[..., Any], guard: str | None = None
    ) -> bool:
        """Patch `owner.name` (a class or module attribute); False when already patched here
        or absent. `hook(original, *args, **kwargs)` must call `original` at most once.
        `guard` (default: the integration) names the nesting scope: a call nested in another
        hooked call with the same guard is not hooked (e.g. a scikit-learn-API `fit` and the
        native `train` it calls have different guards, so both hooks run)."""
        with _lock:
            key = (id(owner), name)
            if key in self._done:
                return False
            had_own = name in getattr(owner, "__dict__", {})
            try:
                raw = inspect.getattr_static(owner, name)
            except AttributeError:
                return False
            if getattr(raw, "__nt_guard__", None) == (guard or self.integration):
                if not had_own:
                    return False  # inherited from a class hooked already
                # A name imported from a module we patched earlier (`from .training import
                # train`): wrap the original, and restore the original on undo.
                raw = raw.__nt_original__
            if isinstance(raw, (staticmethod, classmethod, property)) or not (
                callable(raw) or hasattr(raw, "__get__")
            ):
                return False  # fit/predict are plain methods; leave these alone
            wrapper: Any = _safe_wrapper(
                guard or self.integration, _callable_of(raw), hook, self.is_active, self.is_silent
            )
            if not inspect.isfunction(raw) and hasattr(raw, "__get__"):
                # e.g. scikit-learn's `available_if` methods: keep hasattr() answering as before
                wrapper = _GuardedDescriptor(raw, wrapper)
            setattr(owner, name, wrapper)
            self._undo.append((owner, name, raw if had_own else _MISSING))
            self._done.add(key)
            return True

    def undo(self) -> None:
        with _lock:
            for owner, name, original in reversed(self._undo):
                try:
                    if original is _MISSING:
                        delattr(owner, name)
                    else:
                        setattr(owner, name, original)
                except (AttributeError, TypeError):
                    pass
            self._undo.clear()
            self._done.clear()

    @property
    def count(self) -> int:
        return len(self._undo)


# -- post-import hooks -------------------------------------------------------------------------
_import_hooks: dict[str, list[Callable[[str], None]]] = {}
_finder_busy = threading.local()


class _HookLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, top: str) -> None:
        self._loader = loader
        self._top = top

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        for callback in list(_import_hooks.get(self._top, ())):
            try:
                callback(module.__name__)
            except Exception as error:
                warn(self._top, f"patching {module.__name__}", error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        top = fullname.partition(".")[0]
        if top not in _import_hooks or getattr(_finder_busy, "on", False):
            return None
        _finder_busy.on = True
        try:
            spec = importlib.util.find_spec(fullname)
        except Exception:
            return None
        finally:
            _finder_busy.on = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _HookLoader(spec.loader, top)
        return spec


_finder = _Finder()


def when_imported(top_module: str, callback: Callable[[str], None]) -> None:
    """Call `callback(module_name)` after `top_module` or any of its submodules is imported,
    and right now for each of them already imported."""
    with _lock:
        hooks = _import_hooks.setdefault(top_module, [])
        if callback not in hooks:
            hooks.append(callback)
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)
    if top_module in sys.modules:
        callback(top_module)


def forget_import_hook(top_module: str, callback: Callable[[str], None]) -> None:
    with _lock:
        hooks = _import_hooks.get(top_module, [])
        if callback in hooks:
            hooks.remove(callback)
        if not hooks:
            _import_hooks.pop(top_module, None)
        if not _import_hooks and _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
