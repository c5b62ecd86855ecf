"""`%compare_runs` in a real JupyterLab: the interactive charts draw, as a person sees them.

A notebook compares runs with a stepped metric (a curve per run), a single-value metric (a dot
per run) and a param; Chromium runs it and reads the chart canvases' pixels to check that marks
were drawn in the runs' colours, then hovers, zooms and checks the metric-against-param
scatter below.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from helpers import require_service
from lab_process import SCREENSHOTS, JupyterLab

from notebook_tracker.widgets.compare_widget import BUNDLE

SEED = """
import math, notebook_tracker as nt
nt.set_experiment("compare")
for i, lr in enumerate((0.1, 0.03, 0.01)):
    with nt.start_run(run_name=f"lr-{lr}"):
        nt.log_params({"lr": lr, "opt": "adam" if i else "sgd"})
        for step in range(60):
            nt.log_metric("loss", math.exp(-step * lr) + 0.02 * math.sin(step), step=step)
        nt.log_metric("accuracy", 0.8 + lr)
"""

# Pixels in a run's colour (saturated), not axes, grid or text (grey).
COLOURED_PIXELS = """(canvas) => {
    const ctx = canvas.getContext('2d');
    const {data} = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
        if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
    }
    return n;
}"""


@pytest.fixture(scope="module")
def compare_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    if not BUNDLE.is_file():
        require_service(f"the chart bundle {BUNDLE} is not built: pip install -e . with Node.js")
    base = tmp_path_factory.mktemp("compare")
    root = base / "root"
    root.mkdir()
    uri = f"sqlite:///{base / 'tracker.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEBOOK_TRACKER_")}
    env["NOTEBOOK_TRACKER_URI"] = uri
    subprocess.run([sys.executable, "-c", SEED], env=env, cwd=root, check=True, timeout=120)
    cells = ["%load_ext notebook_tracker", "%compare_runs -e compare"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, root / "compare.ipynb")
    server = JupyterLab(base / "lab", root, uri)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def notebook(browser, compare_lab: JupyterLab) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.console_errors = errors
    page.set_default_timeout(60_000)
    lab = compare_lab
    page.goto(f"{lab.base_url}lab/workspaces/compare/tree/compare.ipynb?reset&token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    page.wait_for_function(
        """() => {
            const k = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
            return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
        }"""
    )
    try:
        yield page
    finally:
        shot(page, "final")
        context.close()


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"compare-{name}.png"
    page.screenshot(path=str(path))
    return path


def test_compare_runs_draws_curves_dots_and_scatter_in_the_notebook(notebook):
    page = notebook
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    widget = page.locator(".nt-CompareWidget").first
    widget.wait_for()
    curves = widget.locator(".nt-MetricChart[data-metric='loss'][data-kind='curves']")
    values = widget.locator(".nt-MetricChart[data-metric='accuracy'][data-kind='values']")
    curves.locator(".nt-Chart[data-drawn='true']").wait_for()
    values.locator(".nt-Chart[data-drawn='true']").wait_for()
    curves.scroll_into_view_if_needed()
    shot(page, "charts")

    curve_marks = curves.locator("canvas").evaluate(COLOURED_PIXELS)
    dot_marks = values.locator("canvas").evaluate(COLOURED_PIXELS)
    assert curve_marks > 500, f"the loss curves drew {curve_marks} coloured pixels"
    assert dot_marks > 100, f"the accuracy dots drew {dot_marks} coloured pixels"
    assert "3 runs" in curves.inner_text() and "one value per run" in values.inner_text()
    # Every run is in the legend, by name.
    legend = curves.locator(".u-legend").inner_text()
    assert all(f"lr-{lr}" in legend for lr in (0.1, 0.03, 0.01))

    # Hover shows the values under the cursor in the legend.
    box = curves.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    page.wait_for_function(
        "(el) => /\\d\\.\\d/.test(el.querySelector('.u-legend .u-series:nth-child(2) .u-value')"
        ".textContent)",
        arg=curves.element_handle(),
    )
    # Drag to zoom: the chart is redrawn over fewer steps (uPlot draws axes on the canvas).
    canvas = curves.locator("canvas")
    before = canvas.evaluate("(c) => c.toDataURL()")
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + 20, steps=5)
    page.mouse.up()
    page.wait_for_function(
        "([c, before]) => c.toDataURL() !== before", arg=[canvas.element_handle(), before]
    )
    assert canvas.evaluate(COLOURED_PIXELS) > 200  # still curves, now stretched
    shot(page, "zoomed")

    # Below the metric charts: a metric against a param, one dot per run.
    scatter = widget.locator(".nt-ParamScatter")
    scatter.locator(".nt-Chart[data-drawn='true']").wait_for()
    scatter.scroll_into_view_if_needed()
    assert scatter.get_attribute("data-param") == "lr"
    assert scatter.locator("canvas").evaluate(COLOURED_PIXELS) > 50
    shot(page, "scatter")
    assert page.console_errors == []
