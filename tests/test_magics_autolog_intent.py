"""Auto-logging reads intent: a literal the cell then fills or changes is a result, not a param."""

from __future__ import annotations

import pytest

from notebook_tracker.cells.autolog import analyze_cell, mutated_names, select


def logged(source: str) -> tuple[dict[str, str], dict[str, float]]:
    namespace: dict = {}
    exec(source, namespace)
    result = select(analyze_cell(source), namespace)
    return result.params, result.metrics


def test_a_list_filled_with_append_is_neither_param_nor_metric():
    params, metrics = logged("scores = []\nfor i in range(3):\n    scores.append(i * 0.1)")
    assert "scores" not in params and "scores" not in metrics


def test_a_summary_of_a_filled_list_is_a_metric():
    params, metrics = logged(
        "scores = []\nfor i in range(3):\n    scores.append(i)\nbest = max(scores)"
    )
    assert params == {} and metrics == {"best": 2.0}


def test_a_dict_filled_by_item_assignment_gives_metrics_not_a_param():
    params, metrics = logged("results = {}\nresults['acc'] = 0.9\nresults['f1'] = 0.8")
    assert params == {}
    assert metrics == {"results.acc": 0.9, "results.f1": 0.8}


def test_a_literal_dict_changed_after_binding_is_not_a_param():
    params, metrics = logged("cfg = {'lr': 0.1}\ncfg['lr'] = 0.2")
    assert "cfg" not in params and metrics == {"cfg.lr": 0.2}


def test_an_untouched_literal_stays_a_param_even_when_passed_to_a_function():
    params, _ = logged("layers = [64, 32]\nn = len(layers)\nprint(layers)\nlr = 0.1")
    assert params == {"layers": "[64, 32]", "lr": "0.1"}


def test_a_mutation_inside_a_function_the_cell_defines_counts():
    params, _ = logged("seen = set()\ndef visit(x):\n    seen.add(x)\nvisit(1)")
    assert "seen" not in params


def test_forced_params_win_over_mutation():
    source = "cfg = {'lr': 0.1}\ncfg.update(lr=0.2)"
    namespace: dict = {}
    exec(source, namespace)
    result = select(analyze_cell(source), namespace, extra_params=["cfg"])
    assert result.params == {"cfg": "{'lr': 0.2}"}


@pytest.mark.parametrize(
    ("source", "changed"),
    [
        ("x.append(1)", {"x"}),
        ("x.extend([1]); y.update(a=1); z.add(2); w.sort()", {"x", "y", "z", "w"}),
        ("x[0] = 1", {"x"}),
        ("x[0][1] = 1", {"x"}),
        ("x.attr = 1", {"x"}),
        ("x.a.b = 1", {"x"}),
        ("del x[0]", {"x"}),
        ("x += [1]", {"x"}),
        ("x[0], y = 1, 2", {"x"}),  # y is rebound, not changed
        ("x: list = []", set()),  # an annotated binding is a binding
        ("x = [1]", set()),
        ("s.upper(); x.index(1); f(x)", set()),  # not mutators
        ("for i in range(3):\n    x.pop()", {"x"}),
    ],
)
def test_mutated_names_are_the_names_changed_in_place(source, changed):
    import ast

    assert mutated_names(ast.parse(source).body) == changed
