"""Hidden-state flags as a person meets them in JupyterLab, on each kernel generation.

A real `jupyter lab` runs notebooks on kernels of ipykernel 7 + IPython 9 and ipykernel 6 +
IPython 8 (and this environment's own); Chromium drives them as a person does: click a cell
and Shift+Enter, Run All from the menu, edit and save, delete, restart the kernel. Each case
checks the run's `hidden_state` tag and the card under the tracked cell.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from helpers import require_service
from kernels import Kernel, find_kernel, find_notebook7, install_kernelspec
from lab_process import SCREENSHOTS, JupyterLab

from notebook_tracker.artifacts import get_artifact_repository
from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import ViewType

GENERATIONS = ["ipy9", "ipy8", "main"]  # see kernels.py
CELLS = ".jp-NotebookPanel .jp-Notebook .jp-Cell"
TRACKED = 5  # index of the tracked cell in the notebook below
SOURCES = [
    "%load_ext notebook_tracker",
    "a = 1",
    "b = 2",
    "scores = []",
    "scores.append(a + b)",
    "%%track_run {name} -e lineage\ntotal = a + b + len(scores)",
]


@pytest.fixture(scope="module")
def lineage_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    base = tmp_path_factory.mktemp("lineage")
    root = base / "root"
    root.mkdir()
    server = JupyterLab(base / "lab", root, f"sqlite:///{base / 'tracker.db'}")
    for generation in GENERATIONS:
        kernel = find_kernel(generation)
        if isinstance(kernel, Kernel):
            install_kernelspec(base / "lab" / "data", kernel)
    os.environ.pop("NOTEBOOK_TRACKER_ARTIFACT_ROOT", None)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def kernel_of(generation: str) -> Kernel:
    found = find_kernel(generation)
    if isinstance(found, str):
        require_service(found)
    return found


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    python = find_notebook7()
    if python is None:
        require_service(
            "no Notebook 7 at $NOTEBOOK_TRACKER_TEST_KERNELS_DIR/nb7: python -m venv "
            "--system-site-packages /tmp/nbt-kernels/nb7 && /tmp/nbt-kernels/nb7/bin/pip install "
            "'notebook>=7,<8' (.ci/run does this)"
        )
    base = tmp_path_factory.mktemp("notebook7")
    root = base / "root"
    root.mkdir()
    server = JupyterLab(
        base / "nb7", root, f"sqlite:///{base / 'tracker.db'}", notebook7_python=python
    )
    os.environ.pop("NOTEBOOK_TRACKER_ARTIFACT_ROOT", None)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class LabTab:
    """One JupyterLab page kept open across the module's cases: loading Lab in a fresh page
    costs more than a case's own work. Each case opens its own notebook in it and closes it
    after; a case that failed, or left the page in a state other than Lab with no document
    open, gets it replaced by a freshly loaded one, so no case inherits another's state."""

    def __init__(self, browser, lab: JupyterLab) -> None:
        self.browser, self.lab = browser, lab
        self.context = self.page = None

    def load(self) -> None:
        self.close()
        self.context = self.browser.new_context(viewport={"width": 1300, "height": 1000})
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.page.goto(f"{self.lab.base_url}lab/workspaces/lineage?reset&token={self.lab.token}")
        self.page.wait_for_function("() => !!window.jupyterapp")
        self.page.evaluate("() => window.jupyterapp.restored")

    def clear(self) -> bool:
        """Close every document without saving; False when the page is not fit for reuse."""
        try:
            return self.page.evaluate(
                """() => {
                    const app = window.jupyterapp;
                    for (const widget of Array.from(app.shell.widgets('main'))) {
                        if (widget.context) widget.context.model.dirty = false;
                        widget.dispose();
                    }
                    // Lab opens a Launcher in an empty main area: documents only count.
                    const documents = Array.from(app.shell.widgets('main')).filter(
                        (widget) => widget.context
                    );
                    return documents.length === 0
                        && !document.querySelector('.jp-Dialog, .lm-Menu');
                }"""
            )
        except Exception:
            return False

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
        self.context = self.page = None


@pytest.fixture(scope="module")
def lab_tab(browser, lineage_lab: JupyterLab) -> Iterator[LabTab]:
    tab = LabTab(browser, lineage_lab)
    tab.load()
    try:
        yield tab
    finally:
        tab.close()


@pytest.fixture(scope="module")
def kernel_reaper(lineage_lab: JupyterLab) -> Iterator[KernelReaper]:
    reaper = KernelReaper(lineage_lab)
    try:
        yield reaper
    finally:
        reaper.close()


@pytest.fixture
def lab_page(lab_tab: LabTab, kernel_reaper: KernelReaper, request: pytest.FixtureRequest):
    failed_before = request.session.testsfailed
    if lab_tab.page is None or not lab_tab.clear():
        lab_tab.load()
    page = lab_tab.page
    try:
        yield page
    finally:
        SCREENSHOTS.mkdir(exist_ok=True)
        try:
            page.screenshot(path=str(SCREENSHOTS / f"lineage-final-{request.node.callspec.id}.png"))
        except Exception:
            pass
        if request.session.testsfailed != failed_before or not lab_tab.clear():
            lab_tab.close()  # the next case loads a fresh page
        kernel_reaper.reap()


class KernelReaper:
    """Stops the kernels a case leaves while the next case starts: a kernel takes 1-2 s to
    shut down and nothing in the next case waits on it. `close` waits for them all and
    raises what a shutdown raised."""

    def __init__(self, lab: JupyterLab) -> None:
        self.lab = lab
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.pending: dict[str, Future[bytes]] = {}

    def reap(self) -> None:
        """Each case opens its own notebook: stop its kernel rather than let them pile up."""
        for session_id in self.lab.session_ids():
            if session_id not in self.pending:
                path = f"sessions/{session_id}"
                self.pending[session_id] = self.pool.submit(self.lab.api, "DELETE", path)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for done in self.pending.values():
            done.result()


class Notebook:
    """One notebook open in Lab, driven through the page as a person would."""

    def __init__(self, page, lab: JupyterLab, kernel: Kernel, name: str) -> None:
        self.page, self.lab, self.kernel, self.name = page, lab, kernel, name
        self.file = f"{name}.ipynb"
        self.tracked = TRACKED  # where the tracked cell is now
        cells = [nbformat.v4.new_code_cell(s.format(name=name)) for s in SOURCES]
        nb = nbformat.v4.new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {
            "name": kernel.name,
            "display_name": kernel.name,
            "language": "python",
        }
        nbformat.write(nb, lab.root_dir / self.file)

    def open(self) -> None:
        if self.lab.notebook7_python:
            self.page.goto(f"{self.lab.base_url}notebooks/{self.file}?token={self.lab.token}")
        else:  # in the Lab page already loaded, as File > Open would (the promise is not awaited:
            # it settles seconds after the notebook is usable)
            self.page.evaluate(
                "(path) => { window.jupyterapp.commands.execute('docmanager:open', {path}); }",
                self.file,
            )
            self.page.wait_for_function(
                "(path) => window.jupyterapp.shell.currentWidget?.context?.path === path",
                arg=self.file,
            )
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
        self.wait_idle()

    def wait_idle(self) -> None:
        """The notebook's kernel is connected and idle (the status bar alone can say idle
        before the kernel is reachable, and a Shift+Enter then runs nothing)."""
        self.page.wait_for_function(
            """() => {
                const widget = window.jupyterapp.shell.currentWidget;
                const kernel = widget?.sessionContext?.session?.kernel;
                return !!kernel && kernel.connectionStatus === 'connected'
                    && kernel.status === 'idle';
            }"""
        )
        if not self.lab.notebook7_python:  # Notebook 7 has no execution indicator
            self.page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")

    def cell(self, index: int):
        return self.page.locator(CELLS).nth(index)

    def prompt(self, index: int) -> str:
        return self.cell(index).locator(".jp-InputPrompt").inner_text().strip()

    def run(self, *indices: int) -> None:
        """Click each cell's editor and press Shift+Enter, waiting for it to finish."""
        for index in indices:
            before = self.prompt(index)
            self.select(index)
            self.page.keyboard.press("Shift+Enter")
            self.page.wait_for_function(
                """([sel, i, before]) => {
                    const cells = document.querySelectorAll(sel);
                    const text = cells[i].querySelector('.jp-InputPrompt').innerText.trim();
                    return text !== before && /\\[\\d+\\]/.test(text);
                }""",
                arg=[CELLS, index, before],
            )
            self.wait_idle()

    def select(self, index: int) -> None:
        """Click into the cell's editor, as often as it takes for the cell to become active."""
        cell = self.cell(index)
        for _ in range(5):
            cell.locator(".jp-InputArea-editor").click()
            try:
                self.page.wait_for_function(
                    "([sel, i]) => document.querySelectorAll(sel)[i]"
                    ".classList.contains('jp-mod-active')",
                    arg=[CELLS, index],
                    timeout=5_000,
                )
                return
            except Exception:
                continue
        raise AssertionError(f"cell {index} could not be selected")

    def menu(self, menu: str, item: str) -> None:
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}")).first.click()

    def run_all(self) -> None:
        self.menu("Run", "Run All Cells")
        self.wait_for_prompt(TRACKED)

    def wait_for_prompt(self, index: int) -> None:
        self.page.wait_for_function(
            """([sel, i]) => {
                const cells = document.querySelectorAll(sel);
                return /\\[\\d+\\]/.test(cells[i].querySelector('.jp-InputPrompt').innerText);
            }""",
            arg=[CELLS, index],
        )
        self.wait_idle()

    def edit(self, index: int, text: str) -> None:
        self.select(index)
        self.page.keyboard.press("Control+a")
        self.page.keyboard.type(text)
        self.page.keyboard.press("Escape")

    def save(self) -> None:
        self.page.keyboard.press("Control+s")
        self.page.wait_for_function(
            "() => window.jupyterapp.shell.currentWidget.context.model.dirty === false"
        )

    def delete(self, index: int) -> None:
        self.cell(index).locator(".jp-InputPrompt").click()  # select it (command mode)
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("d")
        self.page.keyboard.press("d")
        if index < self.tracked:
            self.tracked -= 1

    def restart_kernel(self) -> None:
        self.menu("Kernel", "Restart Kernel and Clear Outputs")
        self.page.locator(".jp-Dialog button.jp-mod-accept").click()
        self.page.wait_for_selector(".jp-Dialog", state="detached")
        self.wait_idle()

    def card(self):
        card = self.cell(self.tracked).locator(".nt-run-card")
        self.cell(self.tracked).locator(".nt-run-card:not([data-status='RUNNING'])").wait_for()
        return card

    def screenshot(self, label: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"lineage-{self.name}-{label}.png"
        self.card().scroll_into_view_if_needed()
        self.page.screenshot(path=str(path))
        return path


def runs_named(lab: JupyterLab, name: str) -> list:
    client = TrackingClient(lab.tracking_uri)
    ids = [e.experiment_id for e in client.search_experiments(ViewType.ALL)]
    found = [r for r in client.search_runs(ids, max_results=1000) if r.info.run_name == name]
    return sorted(found, key=lambda r: r.info.start_time)


def report_of(run) -> dict:
    repo = get_artifact_repository(run.info.artifact_uri)
    with repo.open_read("lineage/report.json") as f:
        return json.loads(f.read())


def check(nb: Notebook, label: str, hidden: bool, reason: str | None = None) -> dict:
    """The latest run of the notebook is flagged exactly when `hidden`; the card says so too."""
    card = nb.card()
    nb.screenshot(label)
    (run, *_) = runs_named(nb.lab, nb.name)[::-1]
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert tags["notebook_tracker.notebook_path"] == nb.file, "the notebook path is known"
    report = report_of(run)
    assert report["notebook_known"]
    assert tags["notebook_tracker.hidden_state"] == ("true" if hidden else "false"), report
    assert (card.locator(".ntc-hidden-state").count() == 1) == hidden
    if reason is not None:
        assert any(reason in r for r in report["reasons"]), report["reasons"]
    return report


Case = Callable[[Notebook], None]


def clean_cell_by_cell(nb: Notebook) -> None:
    nb.run(*range(len(SOURCES)))
    report = check(nb, "clean", hidden=False)
    assert [e["state"] for e in report["executions"]] == ["current"] * (len(SOURCES) - 1)


def clean_run_all(nb: Notebook) -> None:
    nb.run_all()
    check(nb, "run-all", hidden=False)


def edited_then_run_in_order(nb: Notebook) -> None:
    nb.edit(1, "a = 10")  # an edit before running, not saved: what ran is what the cell shows
    nb.run(*range(len(SOURCES)))
    check(nb, "edited-then-run", hidden=False)


def idempotent_cell_run_twice(nb: Notebook) -> None:
    nb.run(0, 1, 1, 2, 3, 4, 5)
    check(nb, "idempotent-twice", hidden=False)


def out_of_order(nb: Notebook) -> None:
    nb.run(0, 2, 1, 3, 4, 5)
    check(nb, "out-of-order", hidden=True, reason="out of notebook order")


def edited_after_running(nb: Notebook) -> None:
    nb.run(0, 1, 2, 3, 4)
    nb.edit(1, "a = 10")
    nb.save()
    nb.run(TRACKED)
    report = check(nb, "edited-after-run", hidden=True, reason="edited after they ran")
    assert "a" in report["stale_names"]


def deleted_cell(nb: Notebook) -> None:
    nb.run(0, 1, 2, 3, 4)
    nb.delete(2)  # `b = 2`, which the tracked cell reads; not saved
    nb.run(nb.tracked)
    report = check(nb, "deleted", hidden=True, reason="no longer in the notebook")
    assert "b" in report["stale_names"]


def mutating_cell_run_twice(nb: Notebook) -> None:
    nb.run(0, 1, 2, 3, 4, 4, 5)
    report = check(nb, "mutating-twice", hidden=True, reason="ran 2 times")
    assert report["repeated"][0]["names"] == ["scores"]


def restart_then_clean(nb: Notebook) -> None:
    nb.run(0, 2, 1, 3, 4, 5)  # out of order: flagged in the first kernel
    check(nb, "before-restart", hidden=True)
    nb.restart_kernel()
    nb.run(*range(len(SOURCES)))  # the new kernel ran everything in order
    check(nb, "after-restart", hidden=False)


ALL_CASES: list[Case] = [
    clean_cell_by_cell,
    clean_run_all,
    edited_then_run_in_order,
    idempotent_cell_run_twice,
    out_of_order,
    edited_after_running,
    deleted_cell,
    mutating_cell_run_twice,
    restart_then_clean,
]
# Every case on the newest generation (the one whose counting broke lineage); on the others,
# the cases that rest on what differs between generations: execution numbers, the cell ids
# and deleted cells of the execute request.
KERNEL_CASES = [("ipy9", c) for c in ALL_CASES] + [
    (g, c)
    for g in ("ipy8", "main")
    for c in (clean_cell_by_cell, clean_run_all, edited_after_running, deleted_cell)
]


@pytest.mark.parametrize(
    ("generation", "case"), KERNEL_CASES, ids=[f"{g}-{c.__name__}" for g, c in KERNEL_CASES]
)
def test_hidden_state_is_flagged_exactly_when_true(
    generation: str, case: Case, lab_page, lineage_lab: JupyterLab
) -> None:
    kernel = kernel_of(generation)
    name = f"{case.__name__}-{kernel.name}".replace("_", "-")
    nb = Notebook(lab_page, lineage_lab, kernel, name)
    nb.open()
    case(nb)


NOTEBOOK7_CASES = [clean_cell_by_cell, clean_run_all, edited_after_running, deleted_cell]


@pytest.mark.parametrize("case", NOTEBOOK7_CASES, ids=[c.__name__ for c in NOTEBOOK7_CASES])
def test_hidden_state_in_notebook_7_is_flagged_exactly_when_true(
    case: Case, browser, notebook7: JupyterLab
) -> None:
    kernel = kernel_of("main")  # Notebook 7's own python3 kernel: this environment's packages
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        nb = Notebook(page, notebook7, kernel, f"nb7-{case.__name__}".replace("_", "-"))
        nb.open()
        case(nb)
    finally:
        page.screenshot(path=str(SCREENSHOTS / f"lineage-final-nb7-{case.__name__}.png"))
        context.close()
        notebook7.shut_down_kernels()
