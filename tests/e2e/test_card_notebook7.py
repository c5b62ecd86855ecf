"""The run card and its "open in sidebar" link as a person meets them in Notebook 7.

A real Notebook 7 server (the `nb7` venv `.ci/run` prepares) with the sidebar extension; Chromium
opens a notebook in the Notebook 7 UI, runs `%load_ext` and a `%%track_run` cell (click,
Shift+Enter), and clicks the card's link. Notebook 7 has no room for the run's tabs, so the link
opens JupyterLab at `lab?nt-run=<id>` in a new tab, where the sidebar shows the run.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from helpers import require_service
from kernels import find_notebook7
from lab_process import SCREENSHOTS, JupyterLab

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import ViewType

CELLS = ".jp-NotebookPanel .jp-Notebook .jp-Cell"
SOURCES = ["%load_ext notebook_tracker", "%%track_run nb7-card -e cards\nx = 3\ny = x * 2"]
RUNS = "#notebook-tracker-runs .nt-RunsTable-row"


@pytest.fixture(scope="module")
def notebook7(
    tmp_path_factory: pytest.TempPathFactory, sidebar_jupyter_path: Path
) -> Iterator[JupyterLab]:
    python = find_notebook7()
    if python is None:
        require_service(
            "no Notebook 7 at $NOTEBOOK_TRACKER_TEST_KERNELS_DIR/nb7: python -m venv "
            "--system-site-packages /tmp/nbt-kernels/nb7 && /tmp/nbt-kernels/nb7/bin/pip install "
            "'notebook>=7,<8' (.ci/run does this)"
        )
    base = tmp_path_factory.mktemp("card-nb7")
    root = base / "root"
    root.mkdir()
    cells = [nbformat.v4.new_code_cell(s) for s in SOURCES]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "card.ipynb")
    # The nb7 venv's prefix is not this environment's: without JUPYTER_PATH, Notebook 7 would
    # load no sidebar at all (a federated extension is found under <prefix>/share/jupyter).
    server = JupyterLab(
        base / "nb7",
        root,
        f"sqlite:///{base / 'tracker.db'}",
        jupyter_path=sidebar_jupyter_path,
        notebook7_python=python,
    )
    os.environ.pop("NOTEBOOK_TRACKER_ARTIFACT_ROOT", None)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"card-nb7-{name}.png"
    page.screenshot(path=str(path))
    return path


def wait_idle(page) -> None:
    page.wait_for_function(
        """() => {
            const kernel = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
            return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
        }"""
    )


def run_cell(page, index: int) -> None:
    """Click into the cell's editor and press Shift+Enter, as a person does; wait for it."""
    cell = page.locator(CELLS).nth(index)
    for _ in range(5):
        cell.locator(".jp-InputArea-editor").click()
        if "jp-mod-active" in (cell.get_attribute("class") or ""):
            break
        page.wait_for_timeout(500)
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        """([sel, i]) => /\\[\\d+\\]/.test(
            document.querySelectorAll(sel)[i].querySelector('.jp-InputPrompt').innerText)""",
        arg=[CELLS, index],
    )
    wait_idle(page)


def test_card_link_in_notebook_7_opens_the_run_in_the_lab_sidebar(
    browser, notebook7: JupyterLab
) -> None:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    lab = None
    page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
    try:
        page.goto(f"{notebook7.base_url}notebooks/card.ipynb?token={notebook7.token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
        wait_idle(page)
        run_cell(page, 0)
        run_cell(page, 1)

        card = page.locator(f"{CELLS} .nt-run-card[data-status='FINISHED']")
        card.wait_for()
        run_id = card.get_attribute("data-run-id")
        client = TrackingClient(notebook7.tracking_uri)
        ids = [e.experiment_id for e in client.search_experiments(ViewType.ALL)]
        (run,) = [r for r in client.search_runs(ids) if r.info.run_name == "nb7-card"]
        assert run.info.run_id == run_id, "the card is the card of the run the cell made"

        badge = card.locator(".ntc-status")
        box = badge.bounding_box()
        assert box and box["width"] > 40 and box["height"] > 10, f"a word, not a dot: {box}"
        assert badge.inner_text() == "FINISHED"
        card.scroll_into_view_if_needed()
        shot(page, "card")

        with context.expect_page() as opened:
            card.locator("a.ntc-link", has_text="open in sidebar").click()
        lab = opened.value
        lab.set_default_timeout(60_000)
        lab.on("pageerror", lambda e: errors.append(f"lab: {e}\n{e.stack}"))
        opened_url = urllib.parse.urlsplit(lab.url)
        assert opened_url.path == "/lab", lab.url
        assert urllib.parse.parse_qs(opened_url.query)["nt-run"] == [run_id], lab.url
        assert page.url.startswith(f"{notebook7.base_url}notebooks/card.ipynb"), (
            "the notebook stays where it was"
        )

        details = lab.locator(f".nt-DetailsInner[data-run-id='{run_id}']")
        details.wait_for()
        assert details.get_attribute("data-status") == "FINISHED"
        assert "nb7-card" in details.inner_text()
        lab.locator(f"{RUNS}.nt-mod-focused[data-run-id='{run_id}']").wait_for()
        assert "nt-run=" not in lab.url, "the query is consumed once handled"
        shot(lab, "lab-opened")
        # Notebook 7's own core throws on load ("reading 'schema'") and Lab's window resolver
        # complains beside a Notebook 7 tab, with or without the sidebar: only ours count.
        ours = [e for e in errors if "notebook-tracker" in e]
        assert ours == [], ours
    finally:
        shot(page, "final")
        if lab is not None:
            shot(lab, "lab-final")
        context.close()
