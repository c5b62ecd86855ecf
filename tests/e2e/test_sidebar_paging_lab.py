"""The sidebar's run list paged through the server, as a person sees it: every run once and in
order across pages, and a sort or filter that starts again from the first page. The store
holds 300 runs; the panel's page sizes are made small (20, then 50) so the list takes several
pages, as 100,000 runs do with the default sizes."""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest
from lab_process import screenshot
from sidebar_seed import Seeded
from test_sidebar import PANEL, ROWS, TAB, assert_no_console_errors

from notebook_tracker.client import TrackingClient

RUNS = 300
T0 = 1_700_000_000_000
ROW_HEIGHT = 26  # labextension/src/widgets/runsTable.tsx


def acc(i: int) -> float:
    return (i * 7919 % 1000) / 1000  # distinct for i < 1000


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """Experiment "paged": runs run-0 (oldest) .. run-299 (newest), written in one transaction."""
    base = tmp_path_factory.mktemp("paged")
    (base / "root").mkdir()
    uri = f"sqlite:///{base / 'tracker.db'}"
    client = TrackingClient(uri)
    exp = client.create_experiment("paged", str(base / "artifacts"))
    other = client.create_experiment("other", str(base / "artifacts"))
    template = client.create_run(exp, run_name="template").info.run_id
    conn = sqlite3.connect(base / "tracker.db")
    with conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
        row = dict(zip(cols, conn.execute("SELECT * FROM runs").fetchone(), strict=True))
        conn.execute("DELETE FROM tags WHERE run_uuid = ?", (template,))
        conn.execute("DELETE FROM runs WHERE run_uuid = ?", (template,))
        runs, params, metrics, tags, names = [], [], [], [], {}
        for i in range(RUNS):
            rid = uuid.uuid4().hex
            names[f"run-{i}"] = rid
            start = T0 + i * 1000
            row.update(run_uuid=rid, name=f"run-{i}", status="FINISHED", start_time=start)
            row.update(end_time=start + 500, artifact_uri=f"{base}/artifacts/{rid}")
            runs.append(tuple(row[c] for c in cols))
            params.append((rid, "model", ["cnn", "mlp"][i % 2]))
            # A third unsettled, as runs being logged to are (migration 0010): a sort by acc
            # merges the index's settled rows with those.
            metrics.append((rid, "acc", 0, start, acc(i), False, i % 3 != 0))
            tags.append((rid, "mlflow.runName", f"run-{i}"))
        conn.executemany(f"INSERT INTO runs VALUES ({','.join('?' * len(cols))})", runs)
        conn.executemany("INSERT INTO params (run_uuid, key, value) VALUES (?,?,?)", params)
        conn.executemany("INSERT INTO tags (run_uuid, key, value) VALUES (?,?,?)", tags)
        conn.executemany(
            "INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan, settled)"
            " VALUES (?,?,?,?,?,?,?)",
            metrics,
        )
    conn.close()
    return Seeded(uri=uri, sweep_id=exp, other_id=other, runs=names)


@pytest.fixture
def page(blank_page, lab):
    """A page not yet at Lab: each test sets the panel's page sizes before Lab loads."""
    blank_page.lab = lab
    return blank_page


def open_paged(page, pages: dict[str, int]) -> list[str]:
    """Load Lab with these page sizes and open the panel on experiment "paged"; the runs
    requests' URLs."""
    page.context.add_init_script(
        f"localStorage.setItem('notebook-tracker:runs-pages', {json.dumps(json.dumps(pages))})"
    )
    page.goto(page.lab.lab_url())
    page.click(TAB)
    wait_ready(page)  # all experiments
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/runs?" in r.url else None)
    before = generation(page)
    page.select_option(f"{PANEL} .nt-ExperimentSelect", label="paged")
    wait_for_reload(page, before)
    return requests


def wait_ready(page) -> None:
    page.wait_for_selector(f"{PANEL} .nt-RunsView[data-state='ready']")
    page.wait_for_selector(ROWS)


VIEW = f"{PANEL} .nt-RunsView"


def generation(page) -> str:
    return page.eval_on_selector(VIEW, "v => v.dataset.generation")


def wait_for_reload(page, before: str) -> None:
    """Until a reload after generation `before` has loaded every page it will."""
    page.wait_for_function(
        "([s, g]) => { const v = document.querySelector(s);"
        " return v.dataset.generation !== g && v.dataset.state === 'ready'; }",
        arg=[VIEW, before],
    )
    page.wait_for_selector(ROWS)


def all_rows(page) -> list[str]:
    """Every row's run name, top to bottom, read by scrolling the virtualized table through.

    Each name is placed at its row's index (from the rows' offset), so a run shown twice, or a
    gap, shows in the list."""
    table = f"{PANEL} .nt-RunsTable"
    total = page.eval_on_selector(table, f"t => Math.round(t.scrollHeight / {ROW_HEIGHT}) - 1")
    by_index: dict[int, str] = {}
    top = 0
    while True:
        page.eval_on_selector(table, f"t => {{ t.scrollTop = {top}; }}")
        page.wait_for_timeout(50)
        start, names = page.eval_on_selector(
            f"{PANEL} .nt-RunsTable-body > div",
            "(b, h) => [Math.round(new DOMMatrix(getComputedStyle(b).transform).m42 / h),"
            " [...b.querySelectorAll('.nt-RunsTable-name')].map(e => e.innerText.trim())]",
            ROW_HEIGHT,
        )
        for j, name in enumerate(names):
            assert by_index.setdefault(start + j, name) == name, f"row {start + j} changed"
        if start + len(names) >= total:
            break
        top += 10 * ROW_HEIGHT
    page.eval_on_selector(table, "t => { t.scrollTop = 0; }")
    return [by_index[i] for i in range(len(by_index))]


def restarted(requests: list[str]) -> str:
    """The first page's request of the reload in `requests`, checked to come before any page
    after it (the panel's polls, which ask for the list's top without a token, are skipped)."""
    firsts = [i for i, u in enumerate(requests) if "max_results=20&" in u]
    assert firsts, f"no first page asked: {requests}"
    paged = [i for i, u in enumerate(requests) if "page_token=" in u]
    assert all(firsts[0] < i for i in paged), f"a page before the first: {requests}"
    return requests[firsts[0]]


def count_text(page) -> str:
    return page.locator(f"{PANEL} .nt-RunCount").inner_text()


def wait_count(page, text: str) -> None:
    """Until the count under the toolbar says `text` (the total comes beside the pages)."""
    page.wait_for_function(
        "([s, t]) => document.querySelector(s)?.innerText === t",
        arg=[f"{PANEL} .nt-RunCount", text],
    )


def assert_cut_count_line(page, count: str) -> None:
    """The count of a cut list, its hint and tooltip, on one line at the sidebar's width."""
    wait_count(page, count)
    status = page.locator(f"{PANEL} .nt-Status")
    assert status.locator(".nt-RunCountHint").inner_text() == "narrow the filter to see the rest"
    title = f"{count} in this order: narrow the filter to see the rest"
    assert status.get_attribute("title") == title
    height, font = status.evaluate(
        "e => [e.getBoundingClientRect().height, parseFloat(getComputedStyle(e).fontSize)]"
    )
    assert height < 2 * font, f"the count line wrapped: {height}px at {font}px text"


def test_paging_through_the_list_shows_every_run_once_newest_first(page) -> None:
    requests = open_paged(page, {"first": 20, "next": 50})
    newest_first = [f"run-{i}" for i in reversed(range(RUNS))]
    assert all_rows(page) == newest_first
    assert count_text(page) == f"{RUNS} runs"
    paged = [u for u in requests if "page_token=" in u]
    assert len(paged) == 6, "20 runs, then five pages of 50 followed by their tokens"
    screenshot(page, "paging-all-runs")
    assert_no_console_errors(page)


def test_sort_and_filter_on_a_cut_list_start_again_from_the_first_page(page) -> None:
    requests = open_paged(page, {"first": 20, "next": 50, "max": 120})
    assert all_rows(page) == [f"run-{i}" for i in reversed(range(RUNS - 120, RUNS))]
    assert_cut_count_line(page, "First 120 of 300 runs")
    assert sum("count=true" in u for u in requests) == 1, "the total is asked once per reload"
    page.eval_on_selector(f"{PANEL} .nt-RunsTable", "t => { t.scrollTop = 1000; }")

    # Highest acc first: the top 120 of all 300 runs, not of the 120 newest shown before.
    requests.clear()
    before = generation(page)
    page.locator(f"{PANEL} .nt-RunsTable-header [role='columnheader']", has_text="acc").click()
    wait_for_reload(page, before)
    top = f"run-{max(range(RUNS), key=acc)}"
    page.wait_for_function(
        "([s, n]) => document.querySelector(s)?.innerText.trim() === n",
        arg=[f"{PANEL} .nt-RunsTable-name", top],
    )
    assert "order_by=metrics.%60acc%60+DESC" in restarted(requests)
    assert page.eval_on_selector(f"{PANEL} .nt-RunsTable", "t => t.scrollTop") == 0
    by_acc = sorted(range(RUNS), key=acc, reverse=True)
    assert all_rows(page) == [f"run-{i}" for i in by_acc[:120]]
    screenshot(page, "paging-sorted-by-acc")

    # A filter keeps the sort and starts again from the first page.
    requests.clear()
    before = generation(page)
    box = page.locator(f"{PANEL} .nt-Filter-input")
    box.fill("params.model = 'mlp'")
    box.press("Enter")
    wait_for_reload(page, before)
    assert "filter=params.model" in restarted(requests)
    mlp = [i for i in by_acc if i % 2 == 1]
    assert all_rows(page) == [f"run-{i}" for i in mlp[:120]]
    assert_cut_count_line(page, "First 120 of 150 runs")
    screenshot(page, "paging-filtered-sorted")
    assert_no_console_errors(page)


def test_names_sort_the_same_whether_the_server_or_the_browser_sorts_them(page) -> None:
    # The server orders names by code point (run-10 before run-2): so does the browser, so a
    # list keeps its order when it becomes cut and the server sorts it.
    by_name = sorted(f"run-{i}" for i in range(RUNS))
    open_paged(page, {"first": 20, "next": 50, "max": 120})
    before = generation(page)
    page.locator(f"{PANEL} .nt-RunsTable-header [title='Sort by name']").click()
    wait_for_reload(page, before)  # cut: the server sorts, from the first page
    cut = all_rows(page)
    assert cut == by_name[:120]
    assert cut[:4] == ["run-0", "run-1", "run-10", "run-100"]
    screenshot(page, "paging-cut-sorted-by-name")
    assert_no_console_errors(page)


def test_names_sorted_by_the_browser_come_in_the_servers_order(page) -> None:
    by_name = sorted(f"run-{i}" for i in range(RUNS))  # what the server's order gives (above)
    open_paged(page, {"first": 20, "next": 50})  # complete: the browser sorts
    page.locator(f"{PANEL} .nt-RunsTable-header [title='Sort by name']").click()
    page.wait_for_function(
        "([s, n]) => document.querySelector(s)?.innerText.trim() === n",
        arg=[f"{PANEL} .nt-RunsTable-name", "run-0"],
    )
    assert all_rows(page) == by_name
    assert_no_console_errors(page)
