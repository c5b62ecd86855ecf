"""`%compare_runs`'s interactive charts: the data the front end gets, and the fallbacks."""

from __future__ import annotations

import base64
import os
import re

import pytest

import notebook_tracker as nt
from notebook_tracker.widgets import compare_widget
from notebook_tracker.widgets.chart_payload import (
    chart_payload,
    compact_history,
    points_per_history,
    unpack_wire,
    wire_history,
)
from notebook_tracker.widgets.compare import CompareRuns
from notebook_tracker.widgets.compare_data import ComparisonData

needs_bundle = pytest.mark.skipif(
    not compare_widget.BUNDLE.is_file() and not os.environ.get("NOTEBOOK_TRACKER_REQUIRE_ALL"),
    reason="the chart bundle is not built (pip install -e . builds it with Node.js)",
)


@pytest.fixture
def runs(tracking_uri):
    made = []
    for lr in (0.1, 0.01):
        with nt.start_run(run_name=f"lr-{lr}") as run:
            nt.log_params({"lr": lr, "opt": "adam"})
            for step in (2, 0, 1):  # logged out of order
                nt.log_metric("loss", 1.0 / (1 + step * lr), step=step)
            nt.log_metric("acc", 1 - lr)
        made.append(nt.get_run(run.info.run_id))
    return made


def test_payload_has_every_run_and_each_metric_as_compact_arrays_in_step_order(runs):
    payload = chart_payload(ComparisonData(runs))
    assert [r["run_id"] for r in payload["runs"]] == [r.info.run_id for r in runs]
    assert payload["runs"][0]["params"] == {"lr": "0.1", "opt": "adam"}
    assert payload["runs"][1]["metrics"]["acc"] == pytest.approx(0.99)
    wire = payload["histories"]["loss"][runs[0].info.run_id]
    assert isinstance(wire[1], bytes) and len(wire[1]) == 3 * 3 * 8  # a binary buffer
    steps, timestamps, values, total = unpack_wire(wire)
    assert steps == [0, 1, 2] and total == 3 and len(timestamps) == 3
    assert values == pytest.approx([1.0, 1 / 1.1, 1 / 1.2])
    # A single-value metric: one point per run, drawn as a dot per run by the front end.
    acc = payload["histories"]["acc"]
    assert {len(unpack_wire(h)[2]) for h in acc.values()} == {1}
    assert set(acc) == {r.info.run_id for r in runs}


def test_a_long_history_is_downsampled_keeping_its_extremes_and_total():
    import numpy as np

    n = 100_000
    values = np.sin(np.arange(n) / 1000.0)
    values[12_345] = 50.0  # a spike
    values[77_777] = -50.0
    steps, timestamps, out, total = compact_history(np.arange(n), np.arange(n) * 10, values, 1000)
    assert total == n and len(out) <= 1000 and len(steps) == len(out) == len(timestamps)
    assert max(out) == 50.0 and min(out) == -50.0
    assert steps[0] == 0 and steps[-1] == n - 1 and steps == sorted(steps)


def test_non_finite_values_are_sent_as_gaps():
    raw = [1.0, float("nan"), float("inf"), 3.0]
    _, _, values, total = compact_history([0, 1, 2, 3], [0, 0, 0, 0], raw, 1000)
    assert values == [1.0, None, None, 3.0] and total == 4
    wire = wire_history([0, 1, 2, 3], [5, 6, 7, 8], raw, 1000)
    assert unpack_wire(wire) == [[0, 1, 2, 3], [5, 6, 7, 8], [1.0, None, None, 3.0], 4]


def test_a_run_without_a_metric_gets_no_history_for_it(tracking_uri, runs):
    with nt.start_run(run_name="bare") as run:
        nt.log_param("lr", 1)
    data = ComparisonData([*runs, nt.get_run(run.info.run_id)])
    payload = chart_payload(data)
    assert run.info.run_id not in payload["histories"]["loss"]
    assert payload["runs"][-1]["metrics"] == {}


def test_unknown_chart_view_is_refused_with_the_choices(runs):
    with pytest.raises(ValueError, match="all, metrics, scatter"):
        compare_widget.charts_widget(ComparisonData(runs), "bars")


@needs_bundle
def test_comparison_opens_on_interactive_charts_with_the_runs_data(runs):
    widget = CompareRuns(runs)
    assert widget.fallback_note is None
    assert widget.tabs.get_title(0) == "Charts" and widget.tabs.children[0] is widget.charts
    state = widget.charts.get_state()
    assert state["view"] == "all" and set(state["histories"]) == {"acc", "loss"}
    assert len(state["runs"]) == 2
    titles = [widget.tabs.get_title(i) for i in range(len(widget.tabs.children))]
    assert titles == ["Charts", "Runs", "Parallel", "Diff"]


def test_without_the_bundle_the_comparison_shows_png_charts_and_says_why(runs, monkeypatch):
    monkeypatch.setattr(compare_widget, "BUNDLE", compare_widget.BUNDLE_DIR / "missing.js")
    note = compare_widget.charts_available()
    assert note and "missing.js" in note and "static charts" in note
    widget = CompareRuns(runs)
    assert widget.charts is None and widget.fallback_note == note
    titles = [widget.tabs.get_title(i) for i in range(5)]
    assert titles[:2] == ["Runs", "Curves"]
    curves_tab = widget.tabs.children[1]
    assert note in curves_tab.children[0].value
    assert bytes(widget.curve_image.value).startswith(b"\x89PNG")


def _png_width(png: bytes) -> int:
    return int.from_bytes(png[16:20], "big")


def test_static_png_is_crisp_at_a_fixed_display_width(runs):
    widget = CompareRuns(runs)
    bundle, metadata = widget._repr_mimebundle_()
    png = base64.b64decode(bundle["image/png"])
    shown = metadata["image/png"]["width"]
    # Twice the pixels of its display width, and a display width that fits a notebook.
    assert _png_width(png) // 2 == shown and 300 <= shown <= 900
    html = bundle["text/html"]
    imgs = re.findall(r'<img src="data:image/png;base64,([^"]+)" width="(\d+)"', html)
    assert imgs
    for png_b64, width in imgs:
        assert _png_width(base64.b64decode(png_b64)) // 2 == int(width)
    assert widget.curve_image.width == str(shown)


def test_static_html_draws_single_value_metrics_as_bars_per_run(runs):
    from notebook_tracker.widgets import plots

    data = ComparisonData(runs)
    assert plots.single_value_metrics(data) == ["acc"]  # loss has a history of 3 points
    html = CompareRuns(runs).static_html()
    imgs = re.findall(r'<img src="data:image/png;base64,([^"]+)" width="(\d+)" alt="([^"]*)"', html)
    assert [alt for _, _, alt in imgs] == ["loss by step", "acc per run"]
    png = base64.b64decode(imgs[1][0])
    assert _png_width(png) // 2 == int(imgs[1][1])


def test_many_runs_share_a_point_budget_so_the_chart_stays_fast_to_draw(tracking_uri):
    assert points_per_history(3) == 1000  # a few runs keep their full resolution
    assert points_per_history(50) == 400
    assert points_per_history(10_000) == 200  # never fewer: the curve keeps its shape
    from notebook_tracker.client import TrackingClient
    from notebook_tracker.entities import Metric

    client = TrackingClient()
    made = []
    for r in range(50):
        with nt.start_run(run_name=f"r{r}") as run:
            points = [Metric("loss", 1 / (s + 1), 0, s) for s in range(1000)]
            client.log_batch(run.info.run_id, metrics=points)
        made.append(nt.get_run(run.info.run_id))
    payload = chart_payload(ComparisonData(made))
    counts = {len(unpack_wire(h)[0]) for h in payload["histories"]["loss"].values()}
    assert max(counts) <= 400 and {h[0] for h in payload["histories"]["loss"].values()} == {1000}
