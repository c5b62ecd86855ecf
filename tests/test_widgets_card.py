"""The run card: its markup, sparklines, static fallbacks and live sampling, without a frontend."""

from __future__ import annotations

import base64
import time
from collections import deque
from types import SimpleNamespace

from notebook_tracker.widgets.card_html import CardState, Series, card_html, card_text
from notebook_tracker.widgets.live import MAX_LIVE_POINTS, LiveSampler, LiveUpdater
from notebook_tracker.widgets.run_card import RunCard
from notebook_tracker.widgets.sparkline import downsample, sparkline_svg

WIDGET = "application/vnd.jupyter.widget-view+json"


def state(**kw) -> CardState:
    base = dict(run_id="a" * 32, run_name="lucky-run", start_ms=time.time() * 1000 - 2500)
    base.update(kw)
    return CardState(**base)


def test_card_shows_name_status_duration_params_metrics_and_link():
    s = state(status="FINISHED", params={"lr": "0.1", "opt": "adam"}, metrics={"acc": 0.91234})
    s.end_ms = s.start_ms + 2500
    html = card_html(s)
    assert "lucky-run" in html and 'data-status="FINISHED"' in html and "2.5 s" in html
    assert "lr" in html and "adam" in html and "0.9123" in html
    assert f'href="#notebook-tracker:run={"a" * 32}"' in html
    assert "lr=0.1" in card_text(s)


def test_card_escapes_user_text():
    html = card_html(state(params={"<b>": "<script>alert(1)</script>"}))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_card_shows_error_hidden_state_parent_and_notes():
    s = state(
        status="FAILED",
        error="ValueError: bad",
        hidden_state=True,
        hidden_reasons=["Cells ran out of notebook order"],
        parent_run_id="b" * 32,
        notes=["x not logged: not defined after the cell"],
        logged=["2 figures", "stdout"],
    )
    html = card_html(s)
    assert "logged: 2 figures, stdout" in html
    assert "ValueError: bad" in html and "hidden state" in html
    assert "out of notebook order" in html and "#notebook-tracker:run=" + "b" * 32 in html
    assert "x not logged" in html


def test_stepped_metrics_get_sparklines():
    series = Series()
    for i in range(10):
        series.add(i, 1000.0 + i, 1 / (i + 1))
    html = card_html(state(metrics={"loss": 0.1}, series={"loss": series}))
    assert "<svg" in html and "10 pts" in html


def test_sparkline_scales_points_and_needs_two():
    svg = sparkline_svg([0, 1, 2], [1.0, 3.0, 2.0], width=100, height=20)
    assert svg.startswith("<svg") and "polyline" in svg
    assert sparkline_svg([0], [1.0]) == ""
    xs, ys = downsample(list(range(1000)), [float(i) for i in range(1000)], 50)
    assert len(xs) == 50 and xs[0] == 0 and xs[-1] == 999
    assert downsample([0, 1, 2], [1.0, float("nan"), 2.0]) == ([0, 2], [1.0, 2.0])


def test_run_card_output_is_html_with_a_png_of_stepped_metrics():
    s = state(metrics={"loss": 0.5})
    card = RunCard(s)
    assert 'data-status="RUNNING"' in card._repr_mimebundle_()["text/html"]
    s.metrics["acc"] = 0.75
    assert card.refresh() is True and "0.75" in card.html
    s.status = "FINISHED"
    s.end_ms = s.start_ms + 10
    for i in range(5):
        s.series.setdefault("loss", Series()).add(i, float(i), 1.0 / (i + 1))
    card.finish()
    bundle = card._repr_mimebundle_()
    assert WIDGET not in bundle  # plain HTML: it survives nbconvert, GitHub and reopening
    assert 'data-status="FINISHED"' in bundle["text/html"]
    assert "data:image/png;base64," in bundle["text/html"]  # no SVG needed by static renderers
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    assert bundle["text/plain"].startswith("Run lucky-run")


def test_card_without_stepped_metrics_has_no_png():
    card = RunCard(state(metrics={"acc": 1.0}))
    card.finish()
    assert "image/png" not in card._repr_mimebundle_()


def test_card_updates_its_display_in_place():
    updates = []

    class Handle:
        def update(self, obj):
            updates.append(obj._repr_mimebundle_()["text/html"])

    s = state()
    s.end_ms = s.start_ms + 1500  # a fixed duration: the markup changes only with the state
    card = RunCard(s)
    card._handle = Handle()
    s.metrics["acc"] = 0.5
    assert card.refresh() is True
    assert card.refresh() is False  # unchanged markup sends nothing
    assert len(updates) == 1
    s.status = "FINISHED"
    card.finish()
    assert 'data-status="FINISHED"' in updates[-1] and "acc" in updates[-1]


def fake_buffer() -> SimpleNamespace:
    return SimpleNamespace(rows=deque(), listeners=[])


def test_sampler_takes_latest_values_from_the_buffer_tail():
    buffer, s = fake_buffer(), state()
    sampler = LiveSampler(buffer, s.run_id, s)
    assert sampler.sample() is False
    buffer.rows.extend([(s.run_id, "loss", 1.0, 1.0, 0), ("other", "acc", 9.0, 1.0, 0)])
    buffer.rows.append((s.run_id, "loss", 0.5, 2.0, 1))
    assert sampler.sample() is True
    assert s.metrics == {"loss": 0.5}
    assert sampler.sample() is False  # nothing new
    buffer.rows.clear()  # the flusher drained the buffer
    buffer.rows.append((s.run_id, "loss", 0.25, 3.0, 2))
    assert sampler.sample() is True and s.metrics["loss"] == 0.25


def test_sampler_builds_bounded_series_from_written_batches():
    buffer, s = fake_buffer(), state()
    sampler = LiveSampler(buffer, s.run_id, s)
    batch = [(s.run_id, "loss", 1 / (i + 1), 1000 + i, i) for i in range(1000)]
    sampler.on_batch(batch + [("other", "loss", 0.0, 0, 0)])
    series = s.series["loss"]
    assert 0 < len(series.values) < MAX_LIVE_POINTS
    assert series.steps == sorted(series.steps) and series.steps[-1] == 999
    assert sampler.sample() is True  # the card has new points to draw


def test_live_updater_refreshes_the_card_from_a_thread_and_detaches():
    class FakeCard:
        refreshed = 0

        def refresh(self):
            FakeCard.refreshed += 1

    buffer, s = fake_buffer(), state()
    updater = LiveUpdater(FakeCard(), LiveSampler(buffer, s.run_id, s)).start()
    try:
        assert len(buffer.listeners) == 1
        for listener in buffer.listeners:
            listener([(s.run_id, "acc", i / 20, i, i) for i in range(20)])
        deadline = time.time() + 5
        while FakeCard.refreshed == 0 and time.time() < deadline:
            time.sleep(0.05)
    finally:
        updater.stop()
    assert FakeCard.refreshed >= 1 and len(s.series["acc"].values) == 20
    assert buffer.listeners == [] and not updater._thread.is_alive()
