"""System metrics as a person sees them in JupyterLab: a `%%track_run --system-metrics` cell
whose run card has a "system" line, and the run's details in the sidebar with the `system/*`
metrics in their own section, charts drawn."""

from __future__ import annotations

from pathlib import Path

import nbformat
from lab_process import screenshot
from sidebar_seed import Seeded
from test_sidebar import assert_no_console_errors

CELLS = [
    "%load_ext notebook_tracker\n"
    "import notebook_tracker as nt\n"
    "nt.set_system_metrics_sampling_interval(0.5)",
    "%%track_run busy-cell --system-metrics\n"
    "import time\n"
    "deadline = time.time() + 3\n"
    "n = 0\n"
    "while time.time() < deadline:\n"
    "    n += sum(i * i for i in range(10_000))\n"
    "nt.log_metric('acc', 0.91)",
]


def write_notebook(root: Path) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nbformat.write(nb, root / "sysmetrics.ipynb")
    return "sysmetrics.ipynb"


def test_a_cell_with_system_metrics_shows_them_on_its_card_and_in_the_sidebar(
    page, lab, seeded: Seeded
) -> None:
    root = Path(seeded.uri.removeprefix("sqlite:///")).parent / "root"
    name = write_notebook(root)
    page.goto(f"{lab.base_url}lab/workspaces/sysmetrics/tree/{name}?reset&token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    page.wait_for_function(
        """() => {
            const kernel = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
            return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
        }""",
        timeout=60_000,
    )
    page.locator(".jp-Cell .jp-InputArea-editor").first.click()
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    card = page.locator(".jp-OutputArea .nt-run-card[data-status='FINISHED']")
    card.wait_for(timeout=90_000)
    system = card.locator(".ntc-system")
    system.wait_for()
    text = system.inner_text()
    assert "CPU" in text and "%" in text and "memory" in text, text
    # the user's metric is in the table; the machine's are not rows of it
    assert card.locator(".ntc-metric[data-key='acc']").count() == 1
    assert card.locator(".ntc-metric[data-key^='system/']").count() == 0
    card.scroll_into_view_if_needed()
    screenshot(page, "system-metrics-card")

    card.locator("a.ntc-link", has_text="open in sidebar").click()
    details = page.locator(".nt-DetailsInner[data-status='FINISHED']")
    details.wait_for()
    section = details.locator(".nt-SystemSection")
    section.wait_for()
    rows = section.locator(".nt-SystemTable tr[data-key^='system/']")
    assert rows.count() >= 8
    assert details.locator(".nt-MetricsTable tr[data-key^='system/']").count() == 0
    assert details.locator(".nt-MetricsTable tr[data-key='acc']").count() == 1
    cpu = section.locator(".nt-MetricChart[data-metric='system/cpu_utilization_percentage']")
    cpu.locator(".nt-Chart[data-drawn='true'] canvas").wait_for(timeout=30_000)
    section.locator(".nt-Section-title").scroll_into_view_if_needed()
    screenshot(page, "system-metrics-details")
    assert_no_console_errors(page)
