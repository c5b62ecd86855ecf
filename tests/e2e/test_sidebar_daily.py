"""The sidebar for daily use, as a person drives it in JupyterLab: run links from the run card
and the lab URL, selection scoped to what is shown, child runs under their parent, live details
of a RUNNING run, and charts for metrics logged once."""

from __future__ import annotations

import time

from lab_process import screenshot
from sidebar_seed import MODEL_RUNS, Seeded
from test_sidebar import PANEL, ROWS, TAB, assert_no_console_errors, open_panel, select

from notebook_tracker.client import TrackingClient

RUN_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c"]  # runColor(0..2) in labextension/src/logic

# Counts, per colour, the canvas pixels within a small distance of it: proof that marks were
# drawn in the runs' colours (an empty frame has only axis and grid colours).
COUNT_PIXELS_JS = """
(canvas, colors) => {
  const ctx = canvas.getContext('2d');
  const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const rgb = colors.map(c => [1, 3, 5].map(i => parseInt(c.slice(i, i + 2), 16)));
  const counts = colors.map(() => 0);
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] < 200) continue;
    rgb.forEach((c, k) => {
      if (Math.abs(data[i] - c[0]) + Math.abs(data[i + 1] - c[1]) +
          Math.abs(data[i + 2] - c[2]) < 40) counts[k]++;
    });
  }
  return counts;
}
"""


def pick_experiment(page, label: str) -> None:
    page.select_option(f"{PANEL} .nt-ExperimentSelect", label=label)
    page.wait_for_selector(f"{PANEL} .nt-RunsView[data-state='ready']")


def compare_count(page) -> str:
    return page.locator(f"{PANEL} .nt-CompareButton").inner_text()


def test_selection_never_holds_runs_of_another_experiment(page, seeded: Seeded) -> None:
    open_panel(page)
    select(page, seeded, "sweep-0", "baseline-0")
    assert compare_count(page) == "Compare (2)"
    pick_experiment(page, "baseline")
    page.wait_for_selector(f"{ROWS}[data-run-id='{seeded.runs['baseline-1']}']")
    assert compare_count(page) == "Compare (1)", "sweep-0 is not shown, so not selected"
    pick_experiment(page, "sweep")
    page.wait_for_selector(f"{ROWS}[data-run-id='{seeded.runs['sweep-1']}']")
    assert compare_count(page) == "Compare", "nothing of sweep was ticked"
    assert page.locator(f"{PANEL} .nt-CompareButton").is_disabled()
    select(page, seeded, "sweep-2")
    pick_experiment(page, "All experiments")
    page.wait_for_selector(f"{ROWS}[data-run-id='{seeded.runs['baseline-0']}']")
    assert compare_count(page) == "Compare (1)", "sweep-2 is still shown under all experiments"
    page.click(f"{PANEL} .nt-CompareButton")
    chips = page.locator(".nt-CompareView").last.locator(".nt-RunChip")
    chips.first.wait_for()
    assert chips.all_inner_texts()[0].strip().startswith("sweep-2") and chips.count() == 1
    # Under "All experiments" each row names its experiment.
    row = page.locator(f"{ROWS}[data-run-id='{seeded.runs['baseline-0']}']")
    assert row.locator(".nt-RunsTable-experiment").inner_text() == "baseline"
    assert_no_console_errors(page)


def test_child_runs_are_grouped_under_their_parent(page, seeded: Seeded) -> None:
    open_panel(page)
    pick_experiment(page, "autolog")
    parent = page.locator(f"{ROWS}[data-run-id='{seeded.parent}']")
    parent.wait_for()
    assert parent.get_attribute("data-children") == "3"
    assert page.locator(f"{ROWS}[data-depth='1']").count() == 0, "collapsed at first"
    screenshot(page, "sidebar-grouped-collapsed")
    parent.locator(".nt-Expand").click()
    children = page.locator(f"{ROWS}[data-depth='1']")
    children.first.wait_for()
    names = children.locator(".nt-RunsTable-name").all_inner_texts()
    assert sorted(names) == ["trial-0", "trial-1", "trial-2"]
    # The children come right after their parent.
    ids = page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.runId)")
    at = ids.index(seeded.parent)
    assert set(ids[at + 1 : at + 4]) == {seeded.runs[f"trial-{i}"] for i in range(3)}
    select(page, seeded, "trial-1")
    assert compare_count(page) == "Compare (1)"
    screenshot(page, "sidebar-grouped-expanded")
    # Collapsing hides the child, and a hidden run leaves the selection.
    parent.locator(".nt-Expand").click()
    page.wait_for_selector(f"{ROWS}[data-depth='1']", state="detached")
    assert compare_count(page) == "Compare"
    assert_no_console_errors(page)


def test_keyboard_moves_selects_expands_and_opens(page, seeded: Seeded) -> None:
    open_panel(page)
    pick_experiment(page, "autolog")
    page.locator(f"{ROWS}[data-run-id='{seeded.parent}']").wait_for()
    table = page.locator(f"{PANEL} .nt-RunsTable")
    focused = f"{ROWS}.nt-mod-focused"

    def press(key: str, then: str) -> None:
        # As a person does: the table has the focus (JupyterLab may still move it while it
        # starts, e.g. to the launcher: two full CI runs lost a key so), then the key, then its
        # effect on screen before the next key.
        table.focus()
        assert page.evaluate("() => document.activeElement?.classList.contains('nt-RunsTable')")
        page.keyboard.press(key)
        page.locator(then).first.wait_for(timeout=30_000)

    press("ArrowDown", f"{focused}[data-run-id='{seeded.parent}']")  # onto the parent
    press("ArrowRight", f"{ROWS}[data-depth='1']")  # expand it
    press("ArrowDown", f"{focused}[data-depth='1']")  # onto its first child
    press("Space", f"{focused}[data-depth='1'][aria-selected='true']")
    run_id = page.locator(focused).get_attribute("data-run-id")
    try:
        press("Enter", f".nt-DetailsInner[data-run-id='{run_id}']")
    except Exception:
        screenshot(page, "sidebar-keyboard-enter-no-details")
        raise
    assert_no_console_errors(page)


def test_single_value_metrics_are_drawn_as_dots_per_run(page, seeded: Seeded) -> None:
    open_panel(page)
    pick_experiment(page, "autolog")
    page.locator(f"{ROWS}[data-run-id='{seeded.parent}'] .nt-Expand").click()
    select(page, seeded, "trial-0", "trial-1", "trial-2")
    page.click(f"{PANEL} .nt-CompareButton")
    view = page.locator(".nt-CompareView").last
    chart = view.locator(".nt-MetricChart[data-metric='accuracy'][data-kind='values']")
    canvas = chart.locator(".nt-Chart[data-drawn='true'] canvas")
    canvas.wait_for()
    counts = canvas.evaluate(COUNT_PIXELS_JS, RUN_COLORS)
    assert all(n > 20 for n in counts), f"a dot in each run's colour: {counts}"
    assert "one value per run" in chart.inner_text()
    scatter = view.locator(".nt-ScatterSection .nt-Chart[data-drawn='true'] canvas")
    scatter.wait_for()
    view.locator(".nt-ScatterSection").scroll_into_view_if_needed()
    counts = scatter.evaluate(COUNT_PIXELS_JS, RUN_COLORS)
    assert all(n > 20 for n in counts), f"the scatter has a dot per run: {counts}"
    view.locator(".nt-ChartsSection").scroll_into_view_if_needed()
    screenshot(page, "sidebar-compare-single-values")
    view.locator(".nt-ScatterSection").scroll_into_view_if_needed()
    screenshot(page, "sidebar-compare-scatter")
    assert_no_console_errors(page)


def test_the_lab_url_opens_a_run_and_its_details_follow_it_while_running(
    blank_page, lab, seeded: Seeded
) -> None:
    page = blank_page  # straight to the run's URL
    client = TrackingClient(seeded.uri)
    run = client.create_run(seeded.sweep_id, run_name="live-training")
    rid = run.info.run_id
    try:
        client.log_metric(rid, "loss", 1.0, step=0)
        page.goto(f"{lab.base_url}lab?nt-run={rid}&token={lab.token}")
        details = page.locator(f".nt-DetailsInner[data-run-id='{rid}']")
        details.wait_for()
        assert details.get_attribute("data-status") == "RUNNING"
        # The sidebar shows the run too, focused.
        # The runs list loads after the details; on a loaded CI machine that took over 30 s.
        page.locator(f"{ROWS}.nt-mod-focused[data-run-id='{rid}']").wait_for(timeout=90_000)
        assert "nt-run=" not in page.url
        for step in range(1, 6):
            client.log_metric(rid, "loss", 1.0 / (step + 1), step=step)
        value = details.locator(".nt-MetricsTable tr[data-key='loss'] td")
        page.wait_for_function(
            "el => el.innerText.trim() === '0.16667'", arg=value.element_handle(), timeout=20_000
        )
        chart = details.locator(".nt-MetricChart[data-metric='loss']")
        page.wait_for_function(
            "el => el.innerText.includes('6 points')", arg=chart.element_handle(), timeout=20_000
        )
        canvas = chart.locator(".nt-Chart[data-drawn='true'] canvas")
        assert canvas.evaluate(COUNT_PIXELS_JS, RUN_COLORS[:1])[0] > 20
        screenshot(page, "details-live")
        client.set_terminated(rid)
        page.wait_for_selector(
            f".nt-DetailsInner[data-run-id='{rid}'][data-status='FINISHED']", timeout=20_000
        )
    finally:
        client.delete_run(rid)
    assert_no_console_errors(page)


def test_a_new_experiment_appears_without_refresh(page, seeded: Seeded) -> None:
    open_panel(page)
    name = f"fresh-{int(time.time())}"
    TrackingClient(seeded.uri).create_experiment(name)
    page.wait_for_function(
        "([sel, name]) => [...document.querySelectorAll(sel + ' option')]"
        ".some(o => o.textContent === name)",
        arg=[f"{PANEL} .nt-ExperimentSelect", name],
        timeout=20_000,
    )
    assert_no_console_errors(page)


def test_filter_error_caret_points_at_the_offending_text(page) -> None:
    open_panel(page)
    box = page.locator(f"{PANEL} .nt-Filter-input")
    box.fill("params.lr >>> 1")
    box.press("Enter")
    error = page.locator(f"{PANEL} .nt-Filter-error")
    error.wait_for()
    style = error.evaluate("e => [getComputedStyle(e).whiteSpace, getComputedStyle(e).fontFamily]")
    assert style[0] == "pre" and "mono" in style[1].lower()
    screenshot(page, "panel-bad-filter-caret")


def test_card_links_open_the_run_in_the_sidebar(blank_page, lab, seeded: Seeded) -> None:
    """The run card as a kernel displays it; its links open the run and its parent."""
    page = blank_page  # straight to the notebook
    child = seeded.runs["trial-1"]
    page.goto(f"{lab.base_url}lab/workspaces/card/tree/card.ipynb?reset&token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    # The status bar can say idle before the kernel is reachable; ask the session itself.
    page.wait_for_function(
        """() => {
            const kernel = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
            return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
        }""",
        timeout=60_000,
    )
    editor = page.locator(".jp-Cell .jp-InputArea-editor").first
    editor.click()
    page.keyboard.insert_text(
        "from notebook_tracker.widgets.card_html import CardState\n"
        "from notebook_tracker.widgets.run_card import RunCard\n"
        f"RunCard(CardState(run_id='{child}', run_name='trial-1', status='FINISHED',"
        f" parent_run_id='{seeded.parent}', params={{'C': '1.0'}},"
        " metrics={'accuracy': 0.93})).show()"
    )
    page.keyboard.press("Shift+Enter")
    card = page.locator(".jp-OutputArea .nt-run-card")
    card.wait_for(timeout=60_000)
    badge = card.locator(".ntc-status")
    box = badge.bounding_box()
    assert box and box["width"] > 40, f"the status badge shows its word, not a dot: {box}"
    assert badge.inner_text() == "FINISHED"
    screenshot(page, "card-in-notebook")

    card.locator("a.ntc-link", has_text="open in sidebar").click()
    page.locator(f".nt-DetailsInner[data-run-id='{child}']").wait_for()
    page.locator(f"{ROWS}.nt-mod-focused[data-run-id='{child}']").wait_for()
    assert (
        page.locator(f"{ROWS}[data-run-id='{seeded.parent}']").get_attribute("aria-expanded")
        == "true"
    ), "the parent opened to show its child"
    screenshot(page, "card-link-opened")

    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('card.ipynb')").click()
    card.locator(".ntc-parent a").click()
    page.locator(f".nt-DetailsInner[data-run-id='{seeded.parent}']").wait_for()
    errors = [e for e in page.console_errors if "not a valid selector" in e or "fragment" in e]
    assert errors == []
    assert_no_console_errors(page)
    assert page.locator(TAB).count() == 1


def test_details_and_compare_come_back_after_a_reload(blank_page, lab, seeded: Seeded) -> None:
    page = blank_page  # straight to a workspace of its own
    workspace = f"{lab.base_url}lab/workspaces/restore-{int(time.time() * 1000)}"
    page.goto(f"{workspace}?reset&token={lab.token}")
    open_panel(page)
    select(page, seeded, "sweep-0", "sweep-1")
    page.click(f"{PANEL} .nt-CompareButton")
    page.locator(".nt-CompareView .nt-RunChip").first.wait_for()
    page.click(f"{ROWS}[data-run-id='{seeded.runs['sweep-2']}'] .nt-RunsTable-name a")
    page.locator(f".nt-DetailsInner[data-run-id='{seeded.runs['sweep-2']}']").wait_for()
    time.sleep(1.5)  # the workspace is saved shortly after the layout changes
    page.goto(f"{workspace}?token={lab.token}")
    page.locator(f".nt-DetailsInner[data-run-id='{seeded.runs['sweep-2']}']").wait_for(
        state="attached"
    )
    chips = page.locator(".nt-CompareView .nt-RunChip")
    chips.first.wait_for(state="attached")
    names = sorted(t.strip().split(" ")[0] for t in chips.all_inner_texts())
    assert names == ["sweep-0", "sweep-1"]
    assert_no_console_errors(page)


def test_parallel_coordinates_draw_each_run_in_its_colour(page, seeded: Seeded) -> None:
    open_panel(page)
    select(page, seeded, "sweep-0", "sweep-1", "sweep-2")
    page.click(f"{PANEL} .nt-CompareButton")
    view = page.locator(".nt-CompareView").last
    section = view.locator(".nt-ParallelSection")
    canvas = section.locator(".nt-Chart[data-drawn='true'] canvas")
    canvas.wait_for()
    section.scroll_into_view_if_needed()
    counts = canvas.evaluate(COUNT_PIXELS_JS, RUN_COLORS)
    assert all(n > 20 for n in counts), f"a line in each run's colour: {counts}"
    screenshot(page, "sidebar-compare-parallel")
    assert_no_console_errors(page)


def test_models_tab_tells_what_a_version_is_and_how_to_call_it(page) -> None:
    page.click(TAB)
    page.click(f"{PANEL} .nt-Tab-models")
    model = page.locator(f"{PANEL} .nt-Model[data-model='doubler']")
    model.wait_for()
    model.locator("tr[data-version='1'] .nt-VersionToggle").click()
    info = model.locator(".nt-VersionDetails[data-version='1']")
    info.wait_for()
    info.locator(".nt-SourceRun", has_text=MODEL_RUNS[1]).wait_for()
    text = info.inner_text()
    assert "created" in text and "20" in text  # a date
    assert "Multiplies x by 2." in text and "factor" in text
    curl = info.locator(".nt-Snippet[data-kind='curl'] pre").inner_text()
    assert "notebook-tracker/models/doubler/1/invocations" in curl
    assert "Authorization: token" in curl
    python = info.locator(".nt-Snippet[data-kind='Python'] pre").inner_text()
    assert "requests.post" in python and "token" in python
    screenshot(page, "panel-models-version")
    assert_no_console_errors(page)
