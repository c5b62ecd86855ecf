"""The auto-logging rules of `%%track_run`, as pure functions: what becomes a param or a metric."""

from __future__ import annotations

import numpy as np
import pytest

from notebook_tracker.cells.arguments import (
    MagicArgumentError,
    parse_runs_line,
    parse_track_line,
)
from notebook_tracker.cells.autolog import analyze_cell, is_real_number, select


def logged(code: str, namespace: dict | None = None, params=(), metrics=(), autolog=True):
    """Run `code` for real and apply the rules to the namespace it leaves."""
    ns: dict = dict(namespace or {})
    exec(code, ns)
    ns.pop("__builtins__", None)
    return select(analyze_cell(code), ns, list(params), list(metrics), autolog)


def test_literal_assignments_become_params_and_computed_numbers_metrics():
    out = logged("lr = 0.01\nopt = 'adam'\nlayers = [64, 32]\nacc = 1 - lr * 10\n")
    assert out.params == {"lr": "0.01", "opt": "adam", "layers": "[64, 32]"}
    assert out.metrics == {"acc": pytest.approx(0.9)}


def test_every_literal_kind_is_a_param():
    code = (
        "a = 3\nb = -2.5\nc = True\nd = None\ne = 'x'\nf = (1, 'two')\n"
        "g = {'k': [1, 2], 'm': None}\nh = {1, 2}\ni: int = 7\n"
    )
    out = logged(code)
    assert set(out.params) == set("abcdefghi")
    assert out.params["c"] == "True" and out.params["d"] == "None" and out.params["i"] == "7"
    assert out.metrics == {}


def test_large_or_computed_literals_are_not_params():
    out = logged(
        "big = list(range(100))\nlong = [0] * 3\nf = f'{1}'\nlst = " + str(list(range(60)))
    )
    assert "big" not in out.params and "long" not in out.params and "f" not in out.params
    assert "lst" not in out.params  # more than 50 items


def test_tuple_unpacking_of_literals_gives_params():
    out = logged("a, b = 1, 'x'\nc, d = divmod(7, 2)\n")
    assert out.params == {"a": "1", "b": "x"}
    assert out.metrics == {"c": 3.0, "d": 1.0}


def test_reassigned_literal_keeps_the_last_value_as_param():
    out = logged("lr = 0.1\nlr = 0.01\n")
    assert out.params == {"lr": "0.01"}


def test_literal_reassigned_by_computation_is_a_metric_not_a_param():
    out = logged("n = 10\nn = n * 3\n")
    assert out.params == {} and out.metrics == {"n": 30.0}


def test_augmented_assignment_makes_a_metric():
    out = logged("total = 1\ntotal += 4\n")
    assert out.params == {} and out.metrics == {"total": 5.0}


def test_augmented_assignment_of_a_name_defined_before_the_cell():
    out = logged("count += 1\n", {"count": 41})
    assert out.metrics == {"count": 42.0}


def test_name_deleted_in_the_cell_is_not_logged():
    out = logged("tmp = 0.5\nscore = tmp * 2\ndel tmp\n")
    assert "tmp" not in out.params and "tmp" not in out.metrics
    assert out.metrics == {"score": 1.0}


def test_name_reassigned_after_del_follows_its_last_bindings():
    out = logged("x = 1\ndel x\nx = 2\n")
    assert out.params == {"x": "2"}


def test_numpy_scalars_are_metrics_and_numpy_bools_are_not():
    out = logged(
        "import numpy as np\nacc = np.float32(0.75)\nn = np.int64(3)\nflag = np.bool_(True)\n"
        "arr = np.array(1.0)\n"
    )
    assert out.metrics == {"acc": 0.75, "n": 3.0}


def test_bools_are_never_metrics():
    out = logged("ok = 1 > 0\n")
    assert out.metrics == {} and out.params == {}


def test_dict_of_numbers_gives_dotted_metrics():
    out = logged("import numpy as np\nscores = {'f1': 0.5, 'auc': np.float64(0.75)}\n")
    assert out.metrics == {"scores.f1": 0.5, "scores.auc": 0.75}


def test_dict_with_a_non_number_gives_no_metric():
    out = logged("report = {'f1': 0.5, 'label': str(1)}\n")
    assert out.metrics == {}


def test_cell_defining_only_a_function_logs_nothing():
    out = logged("def train(lr=0.1):\n    acc = 0.9\n    return acc\n")
    assert out.params == {} and out.metrics == {}


def test_cell_with_no_assignments_logs_nothing():
    out = logged("print(1 + 1)\n[x for x in range(3)]\n")
    assert out.params == {} and out.metrics == {}


def test_loop_bodies_are_not_top_level():
    out = logged("for epoch in range(3):\n    loss = 1 / (epoch + 1)\n")
    assert out.params == {} and out.metrics == {}


def test_a_literal_later_rebound_in_a_loop_is_a_metric():
    out = logged("n = 0\nfor i in range(4):\n    n += i\n")
    assert out.params == {} and out.metrics == {"n": 6.0}


def test_if_with_and_try_bodies_are_top_level():
    code = (
        "import contextlib\nif True:\n    a = 1\nelse:\n    a = 2\n"
        "with contextlib.nullcontext():\n    b = 'x'\n"
        "try:\n    c = abs(-3)\nexcept ValueError as err:\n    c = 0\n"
    )
    out = logged(code)
    assert out.params == {"a": "1", "b": "x"}  # the value after the cell, not the AST's
    assert out.metrics == {"c": 3.0}


def test_private_names_are_skipped():
    out = logged("_seed = 3\n_tmp = abs(-2)\n")
    assert out.params == {} and out.metrics == {}


def test_explicit_params_and_metrics_are_added():
    out = logged("data_path = '/data/' + 'x.csv'\nconfig = {'a': 1.0}\n", params=["data_path"])
    assert out.params == {"data_path": "/data/x.csv", "config": "{'a': 1.0}"}
    assert out.metrics == {}  # a literal dict is configuration: a param, not metrics
    out = logged("acc = 0.9\n", metrics=["acc"])  # -m turns a literal into a metric
    assert out.params == {} and out.metrics == {"acc": 0.9}


def test_explicit_names_that_cannot_be_logged_are_reported():
    out = logged("x = 'text'\n", params=["missing"], metrics=["x"])
    assert set(out.skipped) == {"missing", "x"}
    assert "not defined" in out.skipped["missing"]
    assert "not a real number" in out.skipped["x"]


def test_no_autolog_keeps_only_explicit_names():
    out = logged("lr = 0.1\nacc = lr * 9\n", params=["lr"], autolog=False)
    assert out.params == {"lr": "0.1"} and out.metrics == {}


def test_invalid_python_logs_nothing_automatically():
    assert analyze_cell("x = = 1") is None
    assert select(None, {"x": 1}).params == {}


def test_is_real_number():
    assert is_real_number(1) and is_real_number(2.5) and is_real_number(np.float16(1))
    assert not is_real_number(True) and not is_real_number(np.bool_(False))
    assert not is_real_number(1j) and not is_real_number("1")


# -- the magic lines -------------------------------------------------------------------------
def test_track_line_with_every_option():
    opts = parse_track_line(
        "sweep-1 -e vision -t team=cv owner=me --nested -p lr,bs -p seed -m acc "
        "--artifacts '*.csv' 'out/**/*.png' --no-autolog --quiet"
    )
    assert opts.name == "sweep-1" and opts.experiment == "vision"
    assert opts.tags == {"team": "cv", "owner": "me"}
    assert opts.nested and not opts.autolog and opts.quiet
    assert opts.params == ["lr", "bs", "seed"] and opts.metrics == ["acc"]
    assert opts.artifacts == ["*.csv", "out/**/*.png"]


def test_empty_track_line_means_defaults():
    opts = parse_track_line("")
    assert opts.name is None and opts.autolog and not opts.quiet and not opts.nested


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-t novalue", "KEY=VALUE"),
        ("-p 1abc", "not a variable name"),
        ("-p x -m x", "both -p and -m"),
        ("--bogus", "unrecognized"),
        ("'unclosed", "Cannot read"),
    ],
)
def test_bad_track_lines_say_what_to_write(line, message):
    with pytest.raises(MagicArgumentError, match=message):
        parse_track_line(line)


def test_runs_line_keeps_the_filter_verbatim():
    q = parse_runs_line("params.opt = 'adam' and metrics.acc > -0.5 -e 'my exp' -n 7")
    assert q.filter_string == "params.opt = 'adam' and metrics.acc > -0.5"
    assert q.experiment == "my exp" and q.max_results == 7 and not q.run_ids


def test_runs_line_reads_run_ids_and_last():
    ids = ["0" * 32, "f" * 32]
    assert parse_runs_line(" ".join(ids)).run_ids == ids
    assert parse_runs_line("--last 3").last == 3
    assert parse_runs_line("", "%compare_runs", last_default=5).last == 5
    with pytest.raises(MagicArgumentError, match="not both"):
        parse_runs_line(f"{ids[0]} --last 2")
    with pytest.raises(MagicArgumentError, match="positive"):
        parse_runs_line("--last 0")
