"""System metrics as a person sees them in JupyterLab: a `%%track_run --system-metrics` cell
whose run card has a "system" line, and the run's details in the sidebar with the `system/*`
metrics in their own section, charts drawn."""

from __future__ import annotations

from lab_process import JupyterLab, screenshot
from test_sidebar import assert_no_console_errors
from tracked_cell import run_tracked_cells

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


def test_a_cell_with_system_metrics_shows_them_on_its_card_and_in_the_sidebar(
    blank_page, cards_lab: JupyterLab
) -> None:
    page = blank_page
    card = run_tracked_cells(page, cards_lab, "sysmetrics.ipynb", CELLS, card_timeout_ms=90_000)
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
