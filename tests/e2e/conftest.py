"""Browser tests of the sidebar: a real `jupyter lab` with the extension as the wheel ships it,
driven by Playwright on Debian's chromium (no browser download)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import require_service
from lab_process import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, JupyterLab
from sidebar_seed import Seeded, seed, seed_models
from sidebar_wheel import unpack_data_dir


@pytest.fixture(scope="session")
def sidebar_jupyter_path(tmp_path_factory: pytest.TempPathFactory, sidebar_wheel: Path) -> Path:
    """A Jupyter data dir holding the sidebar unpacked from the session's freshly built wheel."""
    return unpack_data_dir(sidebar_wheel, tmp_path_factory.mktemp("wheel-data"))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    base = tmp_path_factory.mktemp("store")
    root = base / "root"
    root.mkdir()
    os.environ.pop("NOTEBOOK_TRACKER_ARTIFACT_ROOT", None)
    seeded = seed(f"sqlite:///{base / 'tracker.db'}", root)
    seed_models(seeded.uri, base / "models")
    return seeded


@pytest.fixture(scope="module")
def lab(
    tmp_path_factory: pytest.TempPathFactory, seeded: Seeded, sidebar_jupyter_path: Path
) -> Iterator[JupyterLab]:
    work = tmp_path_factory.mktemp("lab")
    root = Path(seeded.uri.removeprefix("sqlite:///")).parent / "root"
    server = JupyterLab(work, root, seeded.uri, jupyter_path=sidebar_jupyter_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class _SharedCardsLab:
    """One `jupyter lab` (the sidebar from the wheel, an empty store) for the modules that run
    tracked cells and look at their cards and runs (starting one takes 3-15 s). Each module
    writes notebooks of its own names, and its kernels are shut down when it ends; the server
    stops with the browser after the last browser test."""

    def __init__(self) -> None:
        self.server: JupyterLab | None = None

    def get(self, factory: pytest.TempPathFactory, jupyter_path: Path) -> JupyterLab:
        if self.server is None:
            base = factory.mktemp("cards")
            root = base / "root"
            root.mkdir()
            uri = f"sqlite:///{base / 'tracker.db'}"
            server = JupyterLab(base / "lab", root, uri, jupyter_path=jupyter_path)
            server.start()
            self.server = server
        return self.server

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()


_CARDS_LAB = _SharedCardsLab()


@pytest.fixture(scope="module")
def cards_lab(
    tmp_path_factory: pytest.TempPathFactory, sidebar_jupyter_path: Path
) -> Iterator[JupyterLab]:
    """The shared `jupyter lab` of the card modules; notebooks go in its `root_dir`."""
    server = _CARDS_LAB.get(tmp_path_factory, sidebar_jupyter_path)
    try:
        yield server
    finally:
        server.shut_down_kernels()  # a module's kernels (a torch one holds ~0.5 GB) end with it


class _SharedChromium:
    """One Chromium for a run of consecutive browser tests (launching one takes 1-5 s).

    Playwright's sync API keeps its asyncio loop running in this thread until it stops, and
    tests after these (pytest-jupyter's fixtures) need the thread's loop back: so it stops
    after the last browser test before any other test (`pytest_runtest_teardown` below), and
    starts again if browser tests come later."""

    def __init__(self) -> None:
        self._playwright: Any = None
        self._browser: Any = None

    def get(self) -> Any:
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        self.stop()
        if not Path(CHROMIUM).exists():
            require_service(f"chromium is not installed at {CHROMIUM} (apt-get install chromium)")
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            require_service("playwright is not installed: pip install -e '.[test]'")
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        return self._browser

    def stop(self) -> None:
        browser, self._browser = self._browser, None
        playwright, self._playwright = self._playwright, None
        try:
            if browser is not None:
                browser.close()
        finally:
            if playwright is not None:
                playwright.stop()


_CHROMIUM = _SharedChromium()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    try:
        return (yield)  # the test's fixtures (pages, contexts, servers) are closed first
    finally:
        if nextitem is None or Path(__file__).parent not in Path(nextitem.path).parents:
            _leave_browser_tests()


def pytest_sessionfinish() -> None:
    _leave_browser_tests()  # a session stopped early (-x, Ctrl+C) skips the teardown hook above


def _leave_browser_tests() -> None:
    try:
        _CARDS_LAB.stop()
    finally:
        _CHROMIUM.stop()


# Module scope, as the fixtures that use it; every module gets the same running Chromium,
# each test its own browser context (no cookies, storage or pages shared between tests).
@pytest.fixture(scope="module")
def browser() -> object:
    return _CHROMIUM.get()


class ConsoleErrors(list):
    """Errors the page logged or threw; every test ends by asserting there were none."""


@pytest.fixture
def blank_page(browser, request: pytest.FixtureRequest) -> Iterator[object]:
    """A page of its own browser context, not yet at any URL, collecting console errors;
    for tests that go straight to a notebook (loading Lab first would be thrown away)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    errors = ConsoleErrors()
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    pg.console_errors = errors
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        SCREENSHOTS.mkdir(exist_ok=True)
        try:
            pg.screenshot(path=str(SCREENSHOTS / f"{request.node.name}-final.png"))
        except Exception:
            pass
        context.close()


@pytest.fixture
def page(blank_page, lab: JupyterLab) -> object:
    """`blank_page` at a fresh JupyterLab workspace of the module's `lab`."""
    blank_page.goto(lab.lab_url())
    blank_page.wait_for_selector("#jp-main-dock-panel")
    return blank_page


# pytest-jupyter's autouse fixtures close the thread's asyncio loop after each test, and that
# is the loop Playwright's sync API is running. These tests start no in-process Jupyter server
# (the server is a separate `jupyter lab` process), so they opt out of both.
@pytest.fixture
def jp_asyncio_loop() -> None:
    return None


@pytest.fixture
def jp_server_cleanup() -> None:
    return None
