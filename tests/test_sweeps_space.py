"""The search-space text shared by %%sweep, nt.sweep and the CLI: what parses, what it means,
and the errors that say what to write instead."""

from __future__ import annotations

import pytest

from notebook_tracker.sweeps.space import SpaceError, parse_space


def test_the_issue_example_parses_into_three_dimensions():
    space = parse_space("lr=loguniform(1e-4,1e-1) depth=int(2,8) opt=choice(adam,sgd)")
    lr, depth, opt = space.dimensions
    assert (lr.kind, lr.low, lr.high, lr.log) == ("float", 1e-4, 1e-1, True)
    assert (depth.kind, depth.low, depth.high, depth.log) == ("int", 2, 8, False)
    assert opt.choices == ("adam", "sgd")
    assert space.names == ["lr", "depth", "opt"]


def test_spaces_inside_parentheses_and_around_equals_are_allowed():
    space = parse_space("lr = uniform( 0.1 , 0.5 )   units=int(8, 64, step=8)")
    assert space.dimensions[1].step == 8
    assert space.dimensions[1].grid() == [8, 16, 24, 32, 40, 48, 56, 64]


def test_log_ints_steps_and_typed_choices():
    space = parse_space(
        "n=logint(1,1024) m=int(1,100,log) f=float(0,1,step=0.25) c=choice(1,2.5,true,'x y')"
    )
    n, m, f, c = space.dimensions
    assert n.log and m.log and n.kind == m.kind == "int"
    assert f.grid() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert c.choices == (1, 2.5, True, "x y")


def test_text_round_trips_so_a_resumed_sweep_recognises_its_space():
    text = "lr=loguniform(1e-4,1e-1) depth=int(2,8,step=2) opt=choice(adam,sgd)"
    space = parse_space(text)
    assert parse_space(space.text()) == space


def test_a_dict_form_gives_the_same_space():
    assert parse_space({"lr": "loguniform(1e-4,1e-1)", "opt": ["adam", "sgd"]}) == parse_space(
        "lr=loguniform(1e-4,1e-1) opt=choice(adam,sgd)"
    )


def test_optuna_distributions_match_the_text():
    dists = parse_space("lr=loguniform(1e-4,1e-1) d=int(2,8,step=2) o=choice(a,b)").to_optuna()
    assert dists["lr"].log and dists["lr"].low == 1e-4
    assert dists["d"].step == 2 and dists["d"].high == 8
    assert list(dists["o"].choices) == ["a", "b"]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("", "empty"),
        ("lr=gaussian(0,1)", "unknown kind 'gaussian'"),
        ("lr=uniform(1)", "two bounds"),
        ("lr=uniform(0.5,0.1)", "low bound must be below"),
        ("lr=loguniform(0,1)", "log scale needs a low bound above 0"),
        ("d=int(1.5,4)", "not a whole number"),
        ("lr=uniform(a,1)", "'a' is not a number"),
        ("lr=uniform(0,1) lr=int(1,2)", "appears twice"),
        ("2x=int(1,2)", "not a variable name"),
        ("lr=uniform(0,1) junk", "Cannot read the search space at 'junk'"),
        ("o=choice()", "at least one value"),
        ("o=choice(a,a)", "same value twice"),
        ("d=int(1,9,step=0)", "step must be above 0"),
        ("d=int(1,9,step=2,log)", "do not go together"),
        ("d=int(1,9,every=2)", "unknown option(s) every"),
        ("x=uniform(0,inf)", "finite"),
    ],
)
def test_bad_spaces_name_the_problem(spec, words):
    with pytest.raises(SpaceError) as caught:
        parse_space(spec)
    assert words in str(caught.value)


def test_grid_over_a_continuous_dimension_says_how_to_make_it_discrete():
    with pytest.raises(SpaceError, match=r"continuous.*step.*choice.*random or tpe"):
        parse_space("lr=loguniform(1e-4,1e-1) d=int(1,3)").grid()
    assert parse_space("d=int(1,3) o=choice(a,b)").grid_size() == 6
