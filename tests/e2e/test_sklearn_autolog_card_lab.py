"""scikit-learn autologging as a person sees it in JupyterLab: a `%%track_run` cell that fits a
random forest ends with a FINISHED run card holding the fit's params and training metrics,
although they and the model are written off the fit's thread."""

from __future__ import annotations

from lab_process import JupyterLab, screenshot
from test_sidebar import assert_no_console_errors
from tracked_cell import run_tracked_cells

CELLS = [
    "%load_ext notebook_tracker\n"
    "from sklearn.datasets import make_classification\n"
    "from sklearn.ensemble import RandomForestClassifier\n"
    "X, y = make_classification(2000, 12, random_state=0)",
    "%%track_run forest-fit\n"
    "model = RandomForestClassifier(n_estimators=40, max_depth=6, random_state=0).fit(X, y)\n"
    "X[:] = 0.0  # changed right after the fit: what was logged is the fit's data\n"
    "print('fitted')",
]


def test_a_forest_fit_cell_shows_its_params_and_training_metrics_on_its_card(
    blank_page, cards_lab: JupyterLab
) -> None:
    page = blank_page
    card = run_tracked_cells(page, cards_lab, "forest.ipynb", CELLS, card_timeout_ms=120_000)
    accuracy = card.locator(".ntc-metric[data-key='training_accuracy_score']")
    accuracy.wait_for()
    assert card.locator(".ntc-metric[data-key='training_roc_auc']").count() == 1
    text = card.inner_text()
    assert "n_estimators" in text and "40" in text, text
    # a forest of depth 6 on its own training data: well above chance, below perfect
    value = float(accuracy.inner_text().split()[-1])
    assert 0.8 < value < 1.0, accuracy.inner_text()
    outputs = page.locator(".jp-OutputArea").last.inner_text()
    assert "Warning" not in outputs, outputs
    card.scroll_into_view_if_needed()
    screenshot(page, "sklearn-autolog-card")
    assert_no_console_errors(page)
