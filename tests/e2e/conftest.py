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


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """The sidebar modules' store (a module may override it with its own). Shared by them
    all: a test that adds runs or experiments deletes its runs, and no test counts those."""
    base = tmp_path_factory.mktemp("store")
    root = base / "root"
    root.mkdir()
    os.environ.pop("NOTEBOOK_TRACKER_ARTIFACT_ROOT", None)
    seeded = seed(f"sqlite:///{base / 'tracker.db'}", root)
    seed_models(seeded.uri, base / "models")
    return seeded


class _SharedLabs:
    """One `jupyter lab` per store for the sidebar modules (starting one takes 3-15 s): the
    modules on the shared `seeded` store share its server. They stop with the browser after
    the last browser test."""

    def __init__(self) -> None:
        self.servers: dict[str, JupyterLab] = {}

    def get(
        self, factory: pytest.TempPathFactory, seeded: Seeded, jupyter_path: Path
    ) -> JupyterLab:
        server = self.servers.get(seeded.uri)
        if server is None or server.proc is None or server.proc.poll() is not None:
            root = Path(seeded.uri.removeprefix("sqlite:///")).parent / "root"
            server = JupyterLab(factory.mktemp("lab"), root, seeded.uri, jupyter_path=jupyter_path)
            server.start()
            self.servers[seeded.uri] = server
        return server

    def stop(self) -> None:
        servers, self.servers = list(self.servers.values()), {}
        for server in servers:
            server.stop()


_SIDEBAR_LABS = _SharedLabs()


@pytest.fixture(scope="module")
def lab(
    tmp_path_factory: pytest.TempPathFactory, seeded: Seeded, sidebar_jupyter_path: Path
) -> Iterator[JupyterLab]:
    """The `jupyter lab` of the module's store; notebooks a module ran end with it."""
    server = _SIDEBAR_LABS.get(tmp_path_factory, seeded, sidebar_jupyter_path)
    try:
        yield server
    finally:
        if server.proc is not None:
            server.shut_down_kernels()


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
        _NEXT_PAGE.discard()
        _CARDS_LAB.stop()
        _SIDEBAR_LABS.stop()
    finally:
        _CHROMIUM.stop()


# Module scope, as the fixtures that use it; every module gets the same running Chromium,
# each test its own browser context (no cookies, storage or pages shared between tests).
@pytest.fixture(scope="module")
def browser() -> object:
    return _CHROMIUM.get()


class ConsoleErrors(list):
    """Errors the page logged or threw; every test ends by asserting there were none."""


def _new_page(browser) -> Any:
    """A page of its own browser context, not yet at any URL, collecting console errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    errors = ConsoleErrors()
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    pg.console_errors = errors
    pg.set_default_timeout(30_000)
    return pg


def _close_page(pg: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    try:
        pg.screenshot(path=str(SCREENSHOTS / f"{name}-final.png"))
    except Exception:
        pass
    pg.context.close()


@pytest.fixture
def blank_page(browser, request: pytest.FixtureRequest) -> Iterator[object]:
    """A page of its own browser context, not yet at any URL, collecting console errors;
    for tests that go straight to a notebook (loading Lab first would be thrown away)."""
    pg = _new_page(browser)
    try:
        yield pg
    finally:
        _close_page(pg, request.node.name)


class _NextPage:
    """The next test's JupyterLab page, loading while the current test runs.

    Loading Lab takes 5-10 s, mostly waiting on the browser and the server, while a test
    mostly waits on the page: so the `page` of the test after this one (when it takes `page`
    of the same server) is created, in its own browser context, and sent to a fresh
    workspace as soon as this test's page is ready. Nothing is shared: it is a new context
    and a new workspace, exactly what the next test would have loaded itself."""

    def __init__(self) -> None:
        self._lab: JupyterLab | None = None
        self._page: Any = None

    def start(self, browser, lab: JupyterLab) -> None:
        self.discard()
        pg = _new_page(browser)
        pg.goto(lab.lab_url(), wait_until="commit")
        self._lab, self._page = lab, pg

    def take(self, lab: JupyterLab) -> Any:
        """The page loading at `lab`, or None (none loading, or for another server)."""
        pg, loaded_for = self._page, self._lab
        self._lab = self._page = None
        if pg is not None and loaded_for is not lab:
            pg.context.close()
            return None
        return pg

    def discard(self) -> None:
        pg, self._lab, self._page = self._page, None, None
        if pg is not None:
            try:
                pg.context.close()
            except Exception:
                pass


_NEXT_PAGE = _NextPage()


def _next_item(request: pytest.FixtureRequest) -> pytest.Item | None:
    items = request.session.items
    try:
        at = items.index(request.node)
    except ValueError:
        return None
    return items[at + 1] if at + 1 < len(items) else None


def _next_takes_this_page(request: pytest.FixtureRequest) -> bool:
    """Whether the next test takes this `page` fixture of the same server: in this module, or
    in another on the shared store (a module with a `seeded` or `page` of its own has not)."""
    following = _next_item(request)
    if following is None or "page" not in getattr(following, "fixturenames", ()):
        return False
    if following.module is request.module:
        return True
    return not any(
        name in vars(m) for m in (request.module, following.module) for name in ("seeded", "page")
    )


@pytest.fixture
def page(browser, lab: JupyterLab, request: pytest.FixtureRequest) -> Iterator[object]:
    """A page of its own browser context at a fresh JupyterLab workspace of the module's
    `lab` (loaded during the test before when that one took `page` too)."""
    pg = _NEXT_PAGE.take(lab)
    if pg is None:
        pg = _new_page(browser)
        pg.goto(lab.lab_url(), wait_until="commit")
    try:
        pg.wait_for_selector("#jp-main-dock-panel")
        if _next_takes_this_page(request):
            _NEXT_PAGE.start(browser, lab)
        yield pg
    finally:
        _close_page(pg, request.node.name)


# pytest-jupyter's autouse fixtures close the thread's asyncio loop after each test, and that
# is the loop Playwright's sync API is running. These tests start no in-process Jupyter server
# (the server is a separate `jupyter lab` process), so they opt out of both.
@pytest.fixture
def jp_asyncio_loop() -> None:
    return None


@pytest.fixture
def jp_server_cleanup() -> None:
    return None
