"""The safe-patch rules every framework integration relies on, on a toy class."""

from __future__ import annotations

import sys
import threading
import warnings

import pytest

from notebook_tracker.frameworks import patching


class Model:
    def fit(self, x: int) -> str:
        if x < 0:
            raise ValueError("negative")
        return f"fitted {x}"

    def step(self) -> str:
        return "step"


def _patcher(active: bool = True) -> patching.Patcher:
    return patching.Patcher("toy", lambda: active)


def test_the_caller_gets_the_originals_return_value_whatever_the_hook_returns() -> None:
    p = _patcher()
    seen = []

    def hook(original, self, x):  # type: ignore[no-untyped-def]
        seen.append(x)
        original(self, x)
        return "something else"

    p.wrap(Model, "fit", hook)
    try:
        assert Model().fit(3) == "fitted 3"
        assert seen == [3]
    finally:
        p.undo()


def test_a_failure_inside_logging_is_a_warning_and_training_still_runs_once() -> None:
    p = _patcher()
    calls = []
    original_fit = Model.fit

    def counting(self, x):  # type: ignore[no-untyped-def]
        calls.append(x)
        return original_fit(self, x)

    Model.fit = counting  # type: ignore[method-assign]
    try:

        def before(original, self, x):  # type: ignore[no-untyped-def]
            raise RuntimeError("store down")

        def after(original, self, x):  # type: ignore[no-untyped-def]
            original(self, x)
            raise RuntimeError("store down")

        for hook in (before, after):
            p.wrap(Model, "fit", hook)
            with pytest.warns(patching.AutologWarning, match="store down"):
                assert Model().fit(2) == "fitted 2"
            p.undo()
        assert calls == [2, 2]
    finally:
        Model.fit = original_fit  # type: ignore[method-assign]


def test_the_users_own_exception_propagates_unchanged() -> None:
    p = _patcher()
    p.wrap(Model, "fit", lambda original, self, x: original(self, x))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ValueError, match="negative"):
                Model().fit(-1)
    finally:
        p.undo()


def test_nested_hooked_calls_of_one_integration_are_not_hooked_again() -> None:
    p = _patcher()
    hooked = []

    def fit_hook(original, self, x):  # type: ignore[no-untyped-def]
        hooked.append("fit")
        self.step()
        return original(self, x)

    def step_hook(original, self):  # type: ignore[no-untyped-def]
        hooked.append("step")
        return original(self)

    p.wrap(Model, "fit", fit_hook)
    p.wrap(Model, "step", step_hook)
    try:
        Model().fit(1)
        assert hooked == ["fit"]
        Model().step()
        assert hooked == ["fit", "step"]
    finally:
        p.undo()


def test_undo_restores_the_class_exactly() -> None:
    before = dict(Model.__dict__)
    p = _patcher()
    assert p.wrap(Model, "fit", lambda original, *a: original(*a))
    assert not p.wrap(Model, "fit", lambda original, *a: original(*a))  # once only
    assert Model.__dict__["fit"] is not before["fit"]
    p.undo()
    assert dict(Model.__dict__) == before


def test_an_inactive_patch_calls_the_original_without_the_hook() -> None:
    p = _patcher(active=False)
    p.wrap(Model, "fit", lambda original, self, x: pytest.fail("hook ran"))
    try:
        assert Model().fit(5) == "fitted 5"
    finally:
        p.undo()


def test_threads_do_not_see_each_others_nesting() -> None:
    p = _patcher()
    hooked: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def hook(original, self, x):  # type: ignore[no-untyped-def]
        hooked.append(threading.current_thread().name)
        if x == 1:
            inside.set()
            release.wait(5)
        return original(self, x)

    p.wrap(Model, "fit", hook)
    try:
        t = threading.Thread(target=Model().fit, args=(1,), name="a")
        t.start()
        assert inside.wait(5)
        other = threading.Thread(target=Model().fit, args=(2,), name="b")
        other.start()
        other.join(5)
        release.set()
        t.join(5)
        # b's call is hooked although a's hooked call is still running in its own thread
        assert sorted(hooked) == ["a", "b"]
    finally:
        p.undo()


def test_a_module_imported_later_is_patched_on_import(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pkg = tmp_path / "nt_toy_framework"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("def train():\n    return 'trained'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen: list[str] = []

    def on_import(name: str) -> None:
        seen.append(name)
        module = sys.modules[name]
        p.wrap(module, "train", lambda original: original())

    p = _patcher()
    patching.when_imported("nt_toy_framework", on_import)
    try:
        import nt_toy_framework  # type: ignore[import-not-found]

        assert seen == ["nt_toy_framework"]
        assert hasattr(nt_toy_framework.train, "__nt_original__")
        assert nt_toy_framework.train() == "trained"
    finally:
        patching.forget_import_hook("nt_toy_framework", on_import)
        p.undo()
        sys.modules.pop("nt_toy_framework", None)
