"""The run card keeps its look wherever it is shown: its classes are its own (`ntc-` prefix, root
`nt-run-card`), every element is styled inline, and no rule of the sidebar's stylesheet can reach
it (that stylesheet once turned the card's status badge into an 8-pixel dot)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from notebook_tracker.widgets.card_html import CardState, Series, card_html

STYLE = Path(__file__).resolve().parents[1] / "labextension" / "style"


def full_card() -> str:
    series = Series()
    for i in range(5):
        series.add(i, 1000.0 + i, 1 / (i + 1))
    state = CardState(
        run_id="a" * 32,
        run_name="lucky",
        status="FAILED",
        start_ms=time.time() * 1000,
        params={"lr": "0.1"},
        metrics={"loss": 0.2, "acc": 0.9},
        series={"loss": series},
        parent_run_id="b" * 32,
        hidden_state=True,
        hidden_reasons=["out of order"],
        error="boom",
        notes=["note"],
        logged=["stdout"],
    )
    return card_html(state)


def test_card_classes_are_its_own():
    classes = {c for attr in re.findall(r'class="([^"]*)"', full_card()) for c in attr.split()}
    assert "nt-run-card" in classes
    foreign = {c for c in classes if c != "nt-run-card" and not c.startswith("ntc-")}
    assert foreign == set(), f"classes another stylesheet may style: {foreign}"


def test_every_card_element_is_styled_inline():
    html = full_card()
    for tag in re.findall(r"<(?:div|span|table|tr|td|a|b)\b[^>]*>", html):
        if 'class="ntc-name"' in tag or "<b>" in tag:
            continue
        assert "style=" in tag, f"unstyled element: {tag}"


def test_the_sidebar_stylesheet_has_no_rule_for_the_card():
    css = "\n".join(p.read_text() for p in STYLE.glob("*.css"))
    assert "ntc-" not in css and "nt-run-card" not in css


def test_the_status_badge_shows_its_word_in_a_box():
    badge = re.search(r'<span class="ntc-status" style="([^"]*)">FAILED</span>', full_card())
    assert badge, "the badge carries the status as text"
    style = badge.group(1)
    assert "display:inline-block" in style and "width:auto" in style and "padding:0 6px" in style
