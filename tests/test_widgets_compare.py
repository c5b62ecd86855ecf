"""`%compare_runs`'s widget without a frontend: model state, controls, plots and fallbacks."""

from __future__ import annotations

import base64

import pytest

import notebook_tracker as nt
from notebook_tracker.widgets.compare import CompareRuns
from notebook_tracker.widgets.compare_data import ComparisonData
from notebook_tracker.widgets.diff import diff_html
from notebook_tracker.widgets.runs_table import runs_table_html

PNG = b"\x89PNG"
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def runs(tracking_uri):
    made = []
    for lr, opt in ((0.1, "adam"), (0.01, "adam"), (0.001, "sgd")):
        with nt.start_run(run_name=f"lr-{lr}") as run:
            nt.log_params({"lr": lr, "opt": opt, "seed": 7})
            for step in range(10):
                nt.log_metric("loss", 1 / (1 + step * lr * 10), step=step)
            nt.log_metric("acc", 1 - lr)
            nt.log_text(f"lr = {lr}\nopt = '{opt}'\n", "cell/source.py")
        made.append(nt.get_run(run.info.run_id))
    return made


def test_table_highlights_only_the_params_that_differ(runs):
    data = ComparisonData(runs)
    assert data.differing_params == ["lr", "opt"]
    html = runs_table_html(data)
    assert html.count('class="nt-param-col nt-differs"') == 2
    assert 'class="nt-param-col" ' in html  # seed is the same everywhere: not highlighted
    for run in runs:
        assert run.info.run_id in html


def test_header_counts_the_differing_params_in_words_that_agree(runs):
    assert "2 params differ (highlighted)" in CompareRuns(runs).children[0].value
    one = CompareRuns(runs[:2]).children[0].value  # only lr differs between the first two
    assert "<b>2 runs</b>" in one and "1 param differs (highlighted)" in one
    assert "params differ" not in one
    alone = CompareRuns(runs[:1]).children[0].value
    assert "<b>1 run</b>" in alone and "no params differ" in alone
    assert "highlighted" not in alone


def test_widget_draws_curves_of_a_stepped_metric_and_switches_x(runs):
    widget = CompareRuns(runs)
    assert widget.curve_metric.value == "loss"  # the metric with a history is preferred
    first = bytes(widget.curve_image.value)
    assert first.startswith(PNG) and widget.curve_image.get_state()["format"] == "png"
    widget.curve_x.value = "time"
    assert (
        bytes(widget.curve_image.value).startswith(PNG) and bytes(widget.curve_image.value) != first
    )
    widget.curve_metric.value = "acc"
    assert bytes(widget.curve_image.value).startswith(PNG)


def test_parallel_and_scatter_are_drawn_when_their_tab_opens(runs, monkeypatch):
    # Without the interactive chart bundle: the PNG tabs.
    monkeypatch.setattr("notebook_tracker.widgets.compare.charts_available", lambda: "no bundle")
    widget = CompareRuns(runs)
    assert bytes(widget.parallel_image.value) == b"" and bytes(widget.scatter_image.value) == b""
    widget.tabs.selected_index = 2
    assert bytes(widget.parallel_image.value).startswith(PNG)
    widget.tabs.selected_index = 3
    assert widget.scatter_param.value == "lr" and bytes(widget.scatter_image.value).startswith(PNG)
    before = bytes(widget.scatter_image.value)
    widget.scatter_param.value = "opt"  # a categorical param
    assert (
        bytes(widget.scatter_image.value).startswith(PNG)
        and bytes(widget.scatter_image.value) != before
    )
    assert [widget.tabs.get_title(i) for i in range(5)] == [
        "Runs",
        "Curves",
        "Parallel",
        "Scatter",
        "Diff",
    ]


def test_diff_of_two_runs_cell_code_and_missing_lineage(runs):
    widget = CompareRuns(runs)
    widget.diff_a.value, widget.diff_b.value = runs[0].info.run_id, runs[2].info.run_id
    assert "-lr = 0.1" in widget.diff_view.value and "+lr = 0.001" in widget.diff_view.value
    widget.diff_what.value = "lineage"
    assert "has no such file" in widget.diff_view.value


def test_mime_bundle_carries_static_table_and_png(runs):
    widget = CompareRuns(runs)
    bundle, metadata = widget._repr_mimebundle_()
    assert metadata["image/png"]["width"] > 0
    assert bundle[WIDGET]["model_id"] == widget.model_id
    assert "nt-runs-table" in bundle["text/html"]
    assert "data:image/png;base64," in bundle["text/html"]
    assert base64.b64decode(bundle["image/png"]).startswith(PNG)
    assert bundle["text/plain"] == "CompareRuns(3 runs)"


def test_runs_without_metrics_or_params_still_compare(tracking_uri):
    with nt.start_run(run_name="bare") as run:
        pass
    widget = CompareRuns([nt.get_run(run.info.run_id)])
    assert bytes(widget.curve_image.value).startswith(PNG)  # a "no metrics" picture, not an error
    widget.tabs.selected_index = 2
    assert bytes(widget.parallel_image.value).startswith(PNG)


def test_diff_html_says_identical_and_escapes():
    assert "Identical" in diff_html("a", "a", "x", "y")
    assert "&lt;b&gt;" in diff_html("<b>", "<i>", "x", "y")
