"""A person's walk through the sidebar's run list on a large store, in headless Chromium.

    python tests/e2e/walk_sidebar_scale.py --db /tmp/ntbench/walk_100000.db [--prefix scale]

Not a test (it needs a store of 100,000 runs: benchmarks/bench_scale.py builds one, copy it
first, the server may write to it). It opens the Runs panel, waits for each page of runs as
the table shows it, scrolls to the end, filters, sorts by a metric, selects two runs and
compares them, opens one, and prints what a person waited for each step (timed in the page,
from the click to the rows painted). Screenshots go to tests/e2e/screenshots/<prefix>-*.png.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from lab_process import CHROMIUM, CHROMIUM_ARGS, JupyterLab, screenshot

TAB = '.jp-SideBar [data-id="notebook-tracker-runs"]'
PANEL = "#notebook-tracker-runs"
ROWS = f"{PANEL} .nt-RunsTable-row"

# Records each change of the run count's text with its time since `window.__ntT0`.
WATCH_COUNT = """
() => {
  window.__ntCounts = [];
  const seen = () => {
    const el = document.querySelector('#notebook-tracker-runs .nt-RunCount');
    const rows = document.querySelectorAll('#notebook-tracker-runs .nt-RunsTable-row').length;
    const text = el ? el.textContent : '';
    const last = window.__ntCounts[window.__ntCounts.length - 1];
    if (!last || last.text !== text || (last.rows === 0) !== (rows === 0)) {
      window.__ntCounts.push({ms: performance.now() - window.__ntT0, text, rows});
    }
  };
  new MutationObserver(() => requestAnimationFrame(seen)).observe(
    document.body, {subtree: true, childList: true, characterData: true});
}
"""

# Records the main thread's long tasks (over 50 ms: a frozen UI) with their start since `__ntT0`.
WATCH_LONG_TASKS = """
() => {
  window.__ntLong = [];
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) {
      window.__ntLong.push({at: e.startTime - window.__ntT0, ms: e.duration});
    }
  }).observe({entryTypes: ['longtask']});
}
"""

# Resolves at the first animation frame where `done` holds, with the ms since `__ntT0`.
UNTIL = """
async (done) => {
  const ok = new Function('return (' + done + ')');
  await new Promise((resolve, reject) => {
    const tick = () => {
      if (ok()) { resolve(); }
      else if (performance.now() - window.__ntT0 > 600000) { reject(new Error(done)); }
      else { requestAnimationFrame(tick); }
    };
    requestAnimationFrame(tick);
  });
  return performance.now() - window.__ntT0;
}
"""

STATE = "document.querySelector('#notebook-tracker-runs .nt-RunsView')?.dataset.state"
FIRST_ROW = "document.querySelector('#notebook-tracker-runs .nt-RunsTable-row .nt-RunsTable-name')"


def start_clock(page) -> None:
    page.evaluate("() => { window.__ntT0 = performance.now(); }")


def until(page, done: str) -> float:
    return float(page.evaluate(UNTIL, done))


def first_names(page, n: int = 5) -> list[str]:
    return page.locator(f"{ROWS} .nt-RunsTable-name").all_inner_texts()[:n]


def count_text(page) -> str:
    return page.locator(f"{PANEL} .nt-RunCount").inner_text()


def long_tasks(page, since: float, until_ms: float) -> str:
    """The long tasks between two times of the clock: how often and how long the UI froze."""
    tasks = [
        t["ms"] for t in page.evaluate("() => window.__ntLong") if since <= t["at"] <= until_ms
    ]
    if not tasks:
        return "no long task"
    tasks.sort()
    return (
        f"{len(tasks)} long tasks, median {tasks[len(tasks) // 2]:.0f} ms, "
        f"longest {tasks[-1]:.0f} ms, {sum(tasks):.0f} ms in all"
    )


def param_values(page, param: str, n: int = 10) -> list[str]:
    """The first rows' values of the `param` column (its cells, by the header's position)."""
    return page.evaluate(
        """([panel, key, n]) => {
            const header = panel + ' .nt-RunsTable-header [role=columnheader]';
            const heads = [...document.querySelectorAll(header)];
            const at = heads.findIndex(h => h.innerText.replace(/[▲▼]/g, '').trim() === key);
            const rows = [...document.querySelectorAll(panel + ' .nt-RunsTable-row')].slice(0, n);
            return rows.map(r => r.querySelectorAll('[role=cell]')[at - 1]?.innerText.trim());
        }""",
        [PANEL, param, n],
    )


def walk_param(page, prefix: str, param: str, uri: str) -> None:
    """Sort the cut list by a numeric param (the server orders it: numbers by value), then
    change the top run in the store and watch the row follow at the next poll."""
    from notebook_tracker.client import TrackingClient

    header = page.locator(f"{PANEL} .nt-RunsTable-header [role='columnheader']", has_text=param)
    start_clock(page)
    header.first.click()  # highest first
    first = until(page, f"{STATE} !== 'loading' && {FIRST_ROW}")
    shown = param_values(page, param)
    done = until(page, f"{STATE} === 'ready'")
    print(f"sort by params.{param} -> first rows {first:.0f} ms, all {done:.0f} ms")
    print(f"   values on the first rows: {shown}; after every page: {param_values(page, param)}")
    screenshot(page, f"{prefix}-6c-sorted-by-{param}")

    top = page.locator(ROWS).first
    run_id = top.get_attribute("data-run-id")
    before = top.inner_html()
    page.evaluate(WATCH_LONG_TASKS)
    start_clock(page)
    client = TrackingClient(uri)
    client.log_metric(run_id, "acc", 0.123456)
    client.set_terminated(run_id, status="FAILED")
    ms = until(
        page,
        f"document.querySelector('{PANEL} .nt-RunsTable-row[data-run-id=\"{run_id}\"]')"
        f"?.innerHTML !== {before!r}",
    )
    print(
        f"a run changed in the store -> its row updated after {ms:.0f} ms (polls every 4 s); "
        f"still first: {page.locator(ROWS).first.get_attribute('data-run-id') == run_id}; "
        f"{long_tasks(page, 0, ms + 100)}"
    )
    screenshot(page, f"{prefix}-6d-run-changed")


def walk(page, prefix: str, param: str | None = None, uri: str = "") -> None:
    page.evaluate(WATCH_COUNT)
    start_clock(page)
    page.evaluate(WATCH_LONG_TASKS)
    page.click(TAB)
    first = until(page, FIRST_ROW)
    print(f"open panel -> first rows painted: {first:.0f} ms ({count_text(page)!r})")
    screenshot(page, f"{prefix}-1-first-page")
    done = until(page, f"{STATE} === 'ready'")
    print(f"open panel -> every page in: {done:.0f} ms ({count_text(page)!r})")
    counts = page.evaluate("() => window.__ntCounts")
    for c in counts:
        print(f"   {c['ms']:8.0f} ms  rows={c['rows']:3d}  {c['text']}")
    print(f"   while the pages streamed in: {long_tasks(page, first, done)}")
    screenshot(page, f"{prefix}-2-all-pages")

    # Scroll as a person drags the scrollbar: a page boundary (row 100), the middle, the end.
    table = f"{PANEL} .nt-RunsTable"
    for label, where in (
        ("row-100", "100 * 26 - 200"),
        ("middle", "t.scrollHeight / 2"),
        ("end", "t.scrollHeight"),
    ):
        start_clock(page)
        page.eval_on_selector(table, f"t => {{ t.scrollTop = {where}; }}")
        ms = until(page, "true")
        print(f"scroll to {label}: next frame after {ms:.0f} ms; rows {first_names(page, 3)}")
        screenshot(page, f"{prefix}-3-scroll-{label}")
    page.eval_on_selector(table, "t => { t.scrollTop = 0; }")

    # Filter.
    box = page.locator(f"{PANEL} .nt-Filter-input")
    box.fill("metrics.acc > 0.99 and params.model = 'cnn'")
    start_clock(page)
    box.press("Enter")
    ms = until(page, f"{STATE} === 'ready'")
    print(f"filter -> rows: {ms:.0f} ms ({count_text(page)!r}) first {first_names(page)}")
    screenshot(page, f"{prefix}-4-filtered")

    # Sort by a metric (the header's click), highest first.
    header = page.locator(f"{PANEL} .nt-RunsTable-header [role='columnheader']", has_text="acc")
    start_clock(page)
    header.first.click()
    ms = until(page, "true")
    print(f"sort by acc -> {ms:.0f} ms ({count_text(page)!r}) first {first_names(page)}")
    screenshot(page, f"{prefix}-5-sorted")

    # Clear the filter (sort kept): the whole list again, sorted by acc.
    box.fill("")
    start_clock(page)
    box.press("Enter")
    first = until(page, f"{STATE} !== 'loading' && {FIRST_ROW}")
    done = until(page, f"{STATE} === 'ready'")
    print(f"clear filter -> first rows {first:.0f} ms, all {done:.0f} ms ({count_text(page)!r})")
    print(f"   first rows sorted by acc: {first_names(page)}")
    print(f"   while the pages streamed in: {long_tasks(page, first, done)}")
    screenshot(page, f"{prefix}-6-unfiltered-sorted")

    # Sort by name (the Run header): a cut list is asked again in the server's order; its top
    # rows must be the order the browser itself sorts in (code point), not re-sorted.
    name_header = page.locator(f"{PANEL} .nt-RunsTable-header [title='Sort by name']")
    start_clock(page)
    name_header.click()
    first = until(page, f"{STATE} !== 'loading' && {FIRST_ROW}")
    shown = first_names(page, 8)
    done = until(page, f"{STATE} === 'ready'")
    print(f"sort by name -> first rows {first:.0f} ms, all {done:.0f} ms ({count_text(page)!r})")
    print(f"   first rows: {shown}; after every page: {first_names(page, 8)}")
    print(f"   while the pages streamed in: {long_tasks(page, first, done)}")
    screenshot(page, f"{prefix}-6b-sorted-by-name")
    if param:
        walk_param(page, prefix, param, uri)

    # Select two runs and compare.
    checks = page.locator(f"{ROWS} .nt-RunsTable-check")
    checks.nth(0).click()
    checks.nth(1).click()
    start_clock(page)
    page.click(f"{PANEL} .nt-CompareButton")
    ms = until(page, "document.querySelector('.nt-CompareView, .nt-Compare') !== null")
    print(f"compare two runs -> view shown {ms:.0f} ms")
    page.wait_for_timeout(1500)
    screenshot(page, f"{prefix}-7-compare")

    # Open a run (double-click its row).
    start_clock(page)
    page.locator(f"{ROWS} .nt-RunsTable-name").nth(2).dblclick()
    ms = until(page, "document.querySelector('.nt-Details, .nt-RunDetails') !== null")
    print(f"open a run -> details shown {ms:.0f} ms")
    page.wait_for_timeout(1500)
    screenshot(page, f"{prefix}-8-details")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--prefix", default="scale")
    parser.add_argument("--param", help="also sort by this numeric param and change a run")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        # The sidebar as built in this tree (`jlpm build`), not an installed copy.
        data = Path(tmp) / "jupyter-path"
        (data / "labextensions").mkdir(parents=True)
        built = Path(__file__).resolve().parents[2] / "notebook_tracker" / "labextension"
        (data / "labextensions" / "notebook-tracker").symlink_to(built)
        lab = JupyterLab(Path(tmp) / "lab", root, f"sqlite:///{args.db}", jupyter_path=data)
        lab.start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on(
                    "response",
                    lambda r: (
                        errors.append(f"{r.status} {r.url} {r.text()[:300]}")
                        if r.status >= 400
                        else None
                    ),
                )
                page.set_default_timeout(120_000)
                page.goto(lab.lab_url())
                page.wait_for_selector(TAB)
                page.wait_for_timeout(1000)
                walk(page, args.prefix, args.param, f"sqlite:///{args.db}")
                if errors:
                    print("console errors:", *errors, sep="\n  ", file=sys.stderr)
                browser.close()
        finally:
            lab.stop()


if __name__ == "__main__":
    main()
