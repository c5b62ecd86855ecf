"""`%%sweep` in a real JupyterLab: the progress table under the cell fills as trials finish,
then shows every trial with the best one highlighted, as a person sees it in Chromium."""

from __future__ import annotations

import time
from collections.abc import Iterator

import nbformat
import pytest
from lab_process import SCREENSHOTS, JupyterLab

CELLS = [
    "%load_ext notebook_tracker",
    '%%sweep live --space "x=int(0,5)" --method grid --parallel 2\n'
    "import time\n"
    "time.sleep(1.5)\n"
    "score = float((x - 3) ** 2)\n",
]


@pytest.fixture(scope="module")
def sweep_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    base = tmp_path_factory.mktemp("sweep-lab")
    root = base / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, root / "sweep.ipynb")
    server = JupyterLab(base / "lab", root, f"sqlite:///{base / 'tracker.db'}")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"sweep-{name}.png"))


def test_the_sweep_table_fills_as_trials_finish_and_highlights_the_best(browser, sweep_lab):
    lab = sweep_lab
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(90_000)
    try:
        page.goto(f"{lab.base_url}lab/workspaces/sweep/tree/sweep.ipynb?reset&token={lab.token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
        page.wait_for_function(
            """() => {
                const k = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
                return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
            }"""
        )
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        table = page.locator(".jp-OutputArea .nt-sweep").first
        table.wait_for()
        seen: list[tuple[str, int]] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = table.evaluate("(el) => [el.dataset.status, Number(el.dataset.done)]")
            if tuple(state) not in seen:
                seen.append(tuple(state))
                if state[0] == "RUNNING" and 0 < state[1] < 6:
                    shot(page, "filling")
            if state[0] != "RUNNING":
                break
            time.sleep(0.1)
        assert seen[-1] == ("FINISHED", 6), seen
        partial = [done for status, done in seen if status == "RUNNING" and 0 < done < 6]
        assert partial, f"the table never showed a sweep in progress: {seen}"
        rows = table.locator("table.nt-sweep-table tr")
        assert rows.count() == 7  # the header and six trials
        best = table.locator("tr.nt-best")
        assert best.count() == 1
        assert best.locator("td").nth(2).inner_text() == "3"  # x = 3 gives the lowest score
        colour = best.locator("td").first.evaluate("(td) => getComputedStyle(td).backgroundColor")
        assert colour not in ("rgba(0, 0, 0, 0)", "transparent"), "the best row is highlighted"
        table.scroll_into_view_if_needed()
        shot(page, "finished")
    finally:
        context.close()
