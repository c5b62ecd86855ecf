"""The sidebar as a user drives it in JupyterLab: list, filter, compare, details, new runs."""

from __future__ import annotations

from lab_process import screenshot
from sidebar_seed import MODEL, MODEL_RUNS, TRAIN_SOURCE, Seeded

from notebook_tracker.client import TrackingClient

TAB = '.jp-SideBar [data-id="notebook-tracker-runs"]'
PANEL = "#notebook-tracker-runs"
ROWS = f"{PANEL} .nt-RunsTable-row"


def open_panel(page) -> None:
    # Once JupyterLab has restored its layout: until then it may still activate the launcher,
    # which takes the keyboard focus from whatever a test (or a person) focused in the panel.
    page.wait_for_function("() => !!window.jupyterapp")
    page.evaluate("() => window.jupyterapp.restored")
    # Nor is that the end: with the main area empty, the file browser opens the launcher once it
    # has listed its folder (a request that can take seconds on a loaded machine), and the
    # launcher takes the focus. A full CI run lost a Space to it, after `restored`.
    page.wait_for_function("() => !window.jupyterapp.shell.isEmpty('main')")
    page.wait_for_function(
        """() => {
            const current = window.jupyterapp.shell.currentWidget;
            return !current || current.node.contains(document.activeElement);
        }"""
    )
    page.click(TAB)
    page.wait_for_selector(f"{PANEL} .nt-RunsView[data-state='ready']")
    page.wait_for_selector(ROWS)


def row_names(page) -> list[str]:
    return page.locator(f"{ROWS} .nt-RunsTable-name").all_inner_texts()


def wait_for_names(page, expected: set[str]) -> None:
    page.wait_for_function(
        """([sel, names]) => {
            const got = [...document.querySelectorAll(sel)].map(e => e.innerText.trim());
            return got.length === names.length && names.every(n => got.includes(n));
        }""",
        arg=[f"{ROWS} .nt-RunsTable-name", sorted(expected)],
    )


def select(page, seeded: Seeded, *names: str) -> None:
    for name in names:
        page.click(f"{ROWS}[data-run-id='{seeded.runs[name]}'] .nt-RunsTable-check")


def assert_no_console_errors(page) -> None:
    assert list(page.console_errors) == [], "the page logged errors"


def test_panel_lists_every_run(page, seeded: Seeded) -> None:
    open_panel(page)
    # Child runs are listed under their collapsed parent ("search"), not at the top level.
    top_level = {name for name in seeded.runs if not name.startswith("trial-")}
    model_runs = set(MODEL_RUNS.values())  # the runs the registered model versions came from
    assert set(row_names(page)) == top_level | model_runs
    total = len(seeded.runs) + len(model_runs)
    assert page.locator(f"{PANEL} .nt-RunCount").inner_text() == f"{total} runs"
    screenshot(page, "panel-runs")
    assert_no_console_errors(page)


def test_experiment_picker_shows_one_experiment(page, seeded: Seeded) -> None:
    open_panel(page)
    page.select_option(f"{PANEL} .nt-ExperimentSelect", label="baseline")
    wait_for_names(page, {"baseline-0", "baseline-1"})
    assert_no_console_errors(page)


def test_filter_narrows_the_runs_and_shows_a_bad_filter_inline(page, seeded: Seeded) -> None:
    open_panel(page)
    box = page.locator(f"{PANEL} .nt-Filter-input")
    box.fill("params.optimizer = 'adam'")
    box.press("Enter")
    wait_for_names(page, {"sweep-1", "sweep-2"})
    screenshot(page, "panel-filtered")

    box.fill("params.lr >>> 1")
    box.press("Enter")
    error = page.locator(f"{PANEL} .nt-Filter-error")
    error.wait_for()
    assert error.inner_text().strip(), "the server's message is shown"
    screenshot(page, "panel-bad-filter")

    box.fill("metrics.acc > 0.9 and params.optimizer = 'sgd'")
    box.press("Enter")
    wait_for_names(page, {"sweep-0", "sweep-3", "sweep-4"})
    assert page.locator(f"{PANEL} .nt-Filter-error").count() == 0
    # The server's 400 for the bad filter is logged by the browser as a failed resource.
    errors = [e for e in page.console_errors if "400" not in e]
    assert errors == []


def test_compare_highlights_the_differing_param_and_draws_the_curves(page, seeded) -> None:
    open_panel(page)
    select(page, seeded, "sweep-1", "sweep-3")
    page.click(f"{PANEL} .nt-CompareButton")
    view = page.locator(".nt-CompareView").last
    view.wait_for()
    lr = view.locator(".nt-ParamsTable tr[data-key='lr']")
    epochs = view.locator(".nt-ParamsTable tr[data-key='epochs']")
    assert lr.get_attribute("data-differs") == "true"
    assert "nt-mod-differs" in (lr.get_attribute("class") or "")
    assert epochs.get_attribute("data-differs") == "false"
    view.locator(".nt-ChartsSection .nt-Chart[data-drawn='true'] canvas").first.wait_for()
    assert view.locator(".nt-ChartsSection .nt-MetricChart").count() == 2  # acc and loss
    screenshot(page, "compare")

    view.locator(".nt-ParamsSection .nt-DiffToggle input").check()
    assert view.locator(".nt-ParamsTable tbody tr").count() == 2  # lr and optimizer differ
    view.locator(".nt-LogToggle").check()
    view.locator(".nt-XSelect").select_option("timestamp")
    view.locator(".nt-ChartsSection .nt-Chart[data-drawn='true'] canvas").first.wait_for()
    view.locator(".nt-ParallelSection .nt-Chart[data-drawn='true'] canvas").wait_for()

    view.locator(".nt-ArtifactColumn").first.locator(
        ".nt-Folder-toggle", has_text="figures"
    ).click()
    image = view.locator(".nt-ArtifactImage").first
    image.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    view.locator(".nt-ArtifactsSection").scroll_into_view_if_needed()
    screenshot(page, "compare-artifacts")
    assert_no_console_errors(page)


def test_run_details_show_params_metrics_and_cell_source(page, seeded) -> None:
    open_panel(page)
    page.click(f"{ROWS}[data-run-id='{seeded.runs['sweep-1']}'] .nt-RunsTable-name a")
    details = page.locator(
        f".nt-RunDetails .nt-DetailsInner[data-run-id='{seeded.runs['sweep-1']}']"
    )
    details.wait_for()
    assert details.locator(".nt-ParamsTable tr[data-key='lr'] td").inner_text() == "0.01"
    assert details.locator(".nt-MetricsTable tr[data-key='acc']").count() == 1
    source = details.locator("pre.nt-CellSource")
    source.wait_for()
    assert source.inner_text().strip() == TRAIN_SOURCE.strip()
    details.locator(".nt-Chart[data-drawn='true'] canvas").first.wait_for()
    screenshot(page, "run-details")

    details.locator(".nt-OpenNotebook").click()
    active = page.locator(".jp-NotebookPanel .jp-Cell.jp-mod-active")
    page.wait_for_function(
        "() => { const c = document.querySelector('.jp-NotebookPanel .jp-Cell.jp-mod-active');"
        " return c && c.innerText.includes('fit(lr=lr'); }"
    )
    assert "evaluate(model)" in active.inner_text()
    screenshot(page, "notebook-at-cell")
    assert_no_console_errors(page)


def test_new_runs_appear_without_losing_the_selection(page, seeded: Seeded) -> None:
    open_panel(page)
    select(page, seeded, "sweep-0")
    client = TrackingClient(seeded.uri)
    run = client.create_run(seeded.sweep_id, run_name="live-run")
    try:  # the store is shared with the other sidebar modules: the run goes whatever happens
        client.log_metric(run.info.run_id, "acc", 0.42)
        page.wait_for_selector(f"{ROWS}[data-run-id='{run.info.run_id}']", timeout=20_000)
        selected = page.locator(f"{ROWS}[data-run-id='{seeded.runs['sweep-0']}']")
        assert selected.get_attribute("aria-selected") == "true"
        assert page.locator(f"{PANEL} .nt-CompareButton").inner_text() == "Compare (1)"
    finally:
        client.set_terminated(run.info.run_id)
        client.delete_run(run.info.run_id)
    assert_no_console_errors(page)


def test_models_tab_lists_versions_and_aliases_and_serves_a_version(page) -> None:
    page.click(TAB)
    page.click(f"{PANEL} .nt-Tab-models")
    model = page.locator(f"{PANEL} .nt-Model[data-model='{MODEL}']")
    model.wait_for()
    assert model.locator(".nt-VersionsTable tr").evaluate_all(
        "rows => rows.map(r => r.dataset.version)"
    ) == ["2", "1"]
    v1 = model.locator(".nt-VersionsTable tr[data-version='1']")
    assert "@champion" in v1.inner_text()
    screenshot(page, "panel-models")

    v1.locator(".nt-ServeButton").click()
    v1.locator(".nt-Badge-ready").wait_for(timeout=90_000)
    assert f"notebook-tracker/models/{MODEL}/1/invocations" in model.inner_text()
    screenshot(page, "panel-models-serving")
    v1.locator(".nt-StopButton").click()
    v1.locator(".nt-ServeButton").wait_for(timeout=30_000)
    assert model.locator(".nt-Badge-ready").count() == 0
    assert page.locator(f"{PANEL} .nt-Error").count() == 0
    assert_no_console_errors(page)


PALETTE_COMMAND = "apputils:activate-command-palette"


def palette_labels(page, query: str) -> set[str]:
    """The palette's entries for `query`, opened through JupyterLab's own command.

    Right after start-up the modal palette closes again when the launcher or the file browser
    takes focus (seen on loaded CI machines), so a palette that vanished is opened again.
    """
    label = ".lm-CommandPalette-item .lm-CommandPalette-itemLabel"
    page.evaluate("() => window.jupyterapp.restored")
    for _ in range(10):
        page.evaluate(f"() => window.jupyterapp.commands.execute({PALETTE_COMMAND!r})")
        try:
            page.locator(".lm-CommandPalette-input").fill(query, timeout=3_000)
            page.locator(label).first.wait_for(timeout=3_000)
            labels = set(page.locator(label).all_inner_texts())
        except Exception:
            labels = set()
        if labels:
            return labels
        page.wait_for_timeout(500)
    raise AssertionError(f"the command palette never listed anything for {query!r}")


def test_commands_are_in_the_palette(page) -> None:
    labels = palette_labels(page, "Notebook Tracker")
    assert {"Open the Runs Panel", "Refresh Runs"} <= labels
    assert any(text.startswith("Compare Selected Runs") for text in labels)
    page.keyboard.press("Escape")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook-tracker:open')")
    page.wait_for_selector(f"{PANEL} .nt-RunsTable-row")
    assert_no_console_errors(page)


def test_dark_theme(page, seeded: Seeded) -> None:
    open_panel(page)
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme',"
        " {theme: 'JupyterLab Dark'})"
    )
    page.wait_for_selector("body[data-jp-theme-light='false']", state="attached")
    select(page, seeded, "sweep-0", "sweep-2")
    page.click(f"{PANEL} .nt-CompareButton")
    page.locator(".nt-CompareView .nt-Chart[data-drawn='true'] canvas").first.wait_for()
    screenshot(page, "compare-dark")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme',"
        " {theme: 'JupyterLab Light'})"
    )
    page.wait_for_selector("body[data-jp-theme-light='true']", state="attached")
    assert_no_console_errors(page)
