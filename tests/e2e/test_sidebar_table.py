"""The runs table in the main area, as a person opens it from the sidebar: every metric and
param a column, sorting, the sidebar's filter and selection, Compare, and back after a reload."""

from __future__ import annotations

import time

from lab_process import screenshot
from sidebar_seed import Seeded
from test_sidebar import PANEL, assert_no_console_errors, open_panel

TABLE = "#notebook-tracker-table"
TABLE_ROWS = f"{TABLE} .nt-RunsTable-row"
HEADERS = ".nt-RunsTable-header [role='columnheader']"


def open_table(page, experiment: str) -> None:
    open_panel(page)
    page.select_option(f"{PANEL} .nt-ExperimentSelect", label=experiment)
    page.wait_for_selector(f"{PANEL} .nt-RunsView[data-state='ready']")
    page.click(f"{PANEL} .nt-OpenTableButton")
    page.wait_for_selector(f"{TABLE} .nt-RunsView.nt-mod-main[data-state='ready']")
    page.wait_for_selector(TABLE_ROWS)


def headers(page, root: str) -> list[str]:
    texts = page.locator(f"{root} {HEADERS}").all_inner_texts()
    return [t.replace("▲", "").replace("▼", "").strip() for t in texts]


def column(page, index: int) -> list[str]:
    """The texts of one column (0: the run), top to bottom."""
    return page.eval_on_selector_all(
        TABLE_ROWS, f"rows => rows.map(r => r.querySelectorAll('[role=cell]')[{index}].innerText)"
    )


def names(page) -> list[str]:
    return page.locator(f"{TABLE_ROWS} .nt-RunsTable-name").all_inner_texts()


def test_the_main_area_table_shows_every_column_sorts_filters_and_compares(
    page, seeded: Seeded
) -> None:
    open_table(page, "sweep")
    sweep = sorted(n for n in seeded.runs if n.startswith("sweep-"))
    assert sorted(names(page)) == sweep
    # Every metric and param is a column here; the sidebar shows the two most common of each.
    main_headers = headers(page, TABLE)
    for key in ("acc", "loss", "epochs", "lr", "optimizer"):
        assert key in main_headers, key
    assert "optimizer" not in headers(page, PANEL)
    table_box = page.locator(f"{TABLE} .nt-RunsTable").bounding_box()
    assert table_box and table_box["width"] > 900, "the table takes the main area's width"
    screenshot(page, "table-main-area")

    # Sorting by a metric: highest first, then lowest first.
    acc = main_headers.index("acc") - 1  # "●" and "Run" head one cell, the run's
    page.locator(f"{TABLE} {HEADERS}", has_text="acc").first.click()
    values = [float(v) for v in column(page, acc)]
    assert values == sorted(values, reverse=True) and len(set(values)) > 1
    page.locator(f"{TABLE} {HEADERS}", has_text="acc").first.click()
    values = [float(v) for v in column(page, acc)]
    assert values == sorted(values)
    screenshot(page, "table-main-area-sorted")

    # The filter is the sidebar's: typed here, it narrows both.
    box = page.locator(f"{TABLE} .nt-Filter-input")
    box.fill("params.optimizer = 'adam'")
    box.press("Enter")
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length === n", arg=[TABLE_ROWS, 2]
    )
    assert sorted(names(page)) == ["sweep-1", "sweep-2"]
    assert page.locator(f"{PANEL} .nt-Filter-input").input_value() == "params.optimizer = 'adam'"
    screenshot(page, "table-main-area-filtered")

    # Ticking rows here selects them in the sidebar too; Compare opens those runs.
    for name in ("sweep-1", "sweep-2"):
        page.click(f"{TABLE_ROWS}[data-run-id='{seeded.runs[name]}'] .nt-RunsTable-check")
    assert page.locator(f"{TABLE} .nt-CompareButton").inner_text() == "Compare (2)"
    assert page.locator(f"{PANEL} .nt-CompareButton").inner_text() == "Compare (2)"
    page.click(f"{TABLE} .nt-CompareButton")
    chips = page.locator(".nt-CompareView").last.locator(".nt-RunChip")
    chips.first.wait_for()
    assert sorted(t.strip().split(" ")[0] for t in chips.all_inner_texts()) == [
        "sweep-1",
        "sweep-2",
    ]
    assert_no_console_errors(page)


def test_the_main_area_table_opens_details_and_comes_back_after_a_reload(
    blank_page, lab, seeded: Seeded
) -> None:
    page = blank_page  # straight to a workspace of its own
    workspace = f"{lab.base_url}lab/workspaces/table-{int(time.time() * 1000)}"
    page.goto(f"{workspace}?reset&token={lab.token}")
    open_table(page, "sweep")
    row = page.locator(f"{TABLE_ROWS}[data-run-id='{seeded.runs['sweep-3']}']")
    row.dblclick()
    page.locator(f".nt-DetailsInner[data-run-id='{seeded.runs['sweep-3']}']").wait_for()
    # The keyboard's row is the double-clicked one: Details brings its tab back from the table.
    page.click("#jp-main-dock-panel .lm-TabBar-tab:has-text('Runs')")
    details = page.locator(f".nt-DetailsInner[data-run-id='{seeded.runs['sweep-3']}']")
    details.wait_for(state="hidden")
    page.click(f"{TABLE} .nt-DetailsButton")
    details.wait_for()
    time.sleep(1.5)  # the workspace is saved shortly after the layout changes
    page.goto(f"{workspace}?token={lab.token}")
    page.wait_for_selector(f"{TABLE} .nt-RunsView.nt-mod-main", state="attached")
    page.click("#jp-main-dock-panel .lm-TabBar-tab:has-text('Runs')")
    page.wait_for_selector(TABLE_ROWS)
    screenshot(page, "table-main-area-restored")
    assert_no_console_errors(page)
