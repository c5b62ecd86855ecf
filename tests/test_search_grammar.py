"""The search filter grammar: what parses, into what, and what a user is told when it does not."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notebook_tracker import search
from notebook_tracker.errors import FilterSyntaxError, InvalidParameter
from notebook_tracker.search import (
    Comparison,
    OrderTerm,
    format_filter,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_filter,
    parse_order_by,
)


def error_for(filter_string: str, parse=parse_filter) -> FilterSyntaxError:
    with pytest.raises(FilterSyntaxError) as info:
        parse(filter_string)
    return info.value


# -- what parses ------------------------------------------------------------------------------


def test_no_filter_means_no_comparisons():
    assert parse_filter(None) == []
    assert parse_filter("") == []
    assert parse_filter("   \n\t") == []


@pytest.mark.parametrize(
    ("prefix", "entity"),
    [
        ("metrics", "metric"),
        ("metric", "metric"),
        ("params", "param"),
        ("param", "param"),
        ("parameters", "param"),
        ("parameter", "param"),
        ("tags", "tag"),
        ("tag", "tag"),
        ("METRICS", "metric"),
        ("Params", "param"),
        ("TAGS", "tag"),
    ],
)
def test_every_entity_alias_names_the_same_entity(prefix, entity):
    value = "1" if entity == "metric" else "'1'"
    assert parse_filter(f"{prefix}.k = {value}") == [
        Comparison(entity, "k", "=", 1.0 if entity == "metric" else "1")
    ]


@pytest.mark.parametrize("prefix", ["attributes", "attribute", "attr", "run", "ATTRIBUTES", ""])
def test_attributes_are_named_with_or_without_a_prefix(prefix):
    ident = f"{prefix}.status" if prefix else "status"
    assert parse_filter(f"{ident} = 'FINISHED'") == [
        Comparison("attribute", "status", "=", "FINISHED")
    ]


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("created", "start_time"),
        ("attributes.created", "start_time"),
        ("Created", "start_time"),
        ('"run name"', "run_name"),
        ("`run name`", "run_name"),
        ('"Run Name"', "run_name"),
        ('attributes."run name"', "run_name"),
        ("run_id", "run_id"),
        ("attr.run_name", "run_name"),
        ("user_id", "user_id"),
        ("artifact_uri", "artifact_uri"),
        ("start_time", "start_time"),
        ("end_time", "end_time"),
    ],
)
def test_attribute_aliases_resolve_to_canonical_names(written, key):
    numeric = key in ("start_time", "end_time")
    clause = f"{written} > 5" if numeric else f"{written} = 'x'"
    [comparison] = parse_filter(clause)
    assert (comparison.entity, comparison.key) == ("attribute", key)


@pytest.mark.parametrize("op", [">", ">=", "=", "!=", "<", "<="])
def test_metrics_take_every_numeric_comparator(op):
    assert parse_filter(f"metrics.loss {op} 0.5") == [Comparison("metric", "loss", op, 0.5)]


@pytest.mark.parametrize(
    ("literal", "value"),
    [("1", 1.0), ("-2", -2.0), ("+3.5", 3.5), (".5", 0.5), ("1e3", 1000.0), ("2.5E-2", 0.025)],
)
def test_metric_values_are_numbers_in_any_usual_notation(literal, value):
    [comparison] = parse_filter(f"metrics.m>={literal}")
    assert comparison.value == value and isinstance(comparison.value, float)


def test_huge_literals_become_infinity_rather_than_failing():
    assert parse_filter("metrics.m < 1e999")[0].value == math.inf


def test_numeric_attributes_keep_integers_exact():
    [comparison] = parse_filter("start_time >= 1700000000123")
    assert comparison.value == 1700000000123 and isinstance(comparison.value, int)
    assert parse_filter("end_time < 1.5e3")[0].value == 1500.0


@pytest.mark.parametrize("entity", ["params", "tags"])
@pytest.mark.parametrize("op", ["=", "!=", "LIKE", "ILIKE", "like", "ilike"])
def test_params_and_tags_take_string_comparators(entity, op):
    [comparison] = parse_filter(f"{entity}.model {op} 'cnn%'")
    assert comparison.op == op.upper() and comparison.value == "cnn%"


@pytest.mark.parametrize("key", ["start_time", "end_time"])
@pytest.mark.parametrize("entity", ["params", "tags"])
def test_params_and_tags_named_like_numeric_attributes_still_take_strings(entity, key):
    [comparison] = parse_filter(f"{entity}.{key} LIKE 'morn%'")
    assert (comparison.key, comparison.op, comparison.value) == (key, "LIKE", "morn%")
    assert parse_filter(f"{entity}.{key} = ''")[0].value == ""


@pytest.mark.parametrize(
    ("written", "op"),
    [
        ("IS NULL", "IS NULL"),
        ("is null", "IS NULL"),
        ("IS NOT NULL", "IS NOT NULL"),
        ("Is  Not\tNull", "IS NOT NULL"),
    ],
)
def test_params_and_tags_can_be_tested_for_absence(written, op):
    assert parse_filter(f"tags.team {written}") == [Comparison("tag", "team", op, None)]


@pytest.mark.parametrize("op", ["=", "!=", "LIKE", "ILIKE"])
def test_string_attributes_take_string_comparators(op):
    assert parse_filter(f"run_name {op} 'a%'") == [Comparison("attribute", "run_name", op, "a%")]


def test_string_attributes_take_in_and_not_in_lists():
    assert parse_filter("attributes.run_id IN ('a','b')") == [
        Comparison("attribute", "run_id", "IN", ("a", "b"))
    ]
    assert parse_filter("status not in ( \"FAILED\" , 'KILLED' )") == [
        Comparison("attribute", "status", "NOT IN", ("FAILED", "KILLED"))
    ]


def test_string_values_take_single_or_double_quotes_and_doubled_quotes_escape():
    assert parse_filter('params.a = "it\'s"')[0].value == "it's"
    assert parse_filter("params.a = 'it''s'")[0].value == "it's"
    assert parse_filter('params.a = "say ""hi"""')[0].value == 'say "hi"'
    assert parse_filter("params.a = ''")[0].value == ""


def test_keys_with_spaces_or_symbols_are_quoted_with_backticks_or_double_quotes():
    assert parse_filter("metrics.`my metric` > 0") == [Comparison("metric", "my metric", ">", 0.0)]
    assert parse_filter("tags.\"a b\" = 'x'") == [Comparison("tag", "a b", "=", "x")]
    assert parse_filter("params.`odd``key` = 'x'")[0].key == "odd`key"
    assert parse_filter('params."say ""hi""" = \'x\'')[0].key == 'say "hi"'


def test_unquoted_keys_may_contain_dots_slashes_dashes_and_colons():
    [comparison] = parse_filter("metrics.val/acc-top:5.mean > 0.1")
    assert comparison.key == "val/acc-top:5.mean"
    assert parse_filter("tags.mlflow.runName = 'x'")[0].key == "mlflow.runName"


def test_keys_are_case_sensitive_while_keywords_are_not():
    assert parse_filter("metrics.Loss < 1 and METRICS.loss < 2") == [
        Comparison("metric", "Loss", "<", 1.0),
        Comparison("metric", "loss", "<", 2.0),
    ]


def test_clauses_join_with_and_in_any_case_and_spacing():
    parsed = parse_filter("metrics.a>1 AND params.b='x'and tags.c  LIKE'%y'\nAnD status='RUNNING'")
    assert [c.entity for c in parsed] == ["metric", "param", "tag", "attribute"]


def test_not_equal_may_be_written_the_sql_way():
    assert parse_filter("metrics.a <> 1") == [Comparison("metric", "a", "!=", 1.0)]


def test_parsed_lists_are_independent_copies():
    first = parse_filter("metrics.a > 1")
    first.append("junk")
    assert parse_filter("metrics.a > 1") == [Comparison("metric", "a", ">", 1.0)]


def test_a_repeated_filter_is_parsed_once():
    text = "metrics.cached_once > 3"
    before = search._cached_filter.cache_info()
    parse_filter(text)
    parse_filter(text)
    after = search._cached_filter.cache_info()
    assert after.misses - before.misses <= 1
    assert after.hits - before.hits >= 1


def test_the_grammar_module_does_not_import_sqlalchemy():
    code = (
        "import sys; import notebook_tracker.search as s; s.parse_filter('metrics.a > 1'); "
        "print(any(m.startswith('sqlalchemy') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- what the user is told --------------------------------------------------------------------


@pytest.mark.parametrize("not_text", [5, ["metrics.a > 1"], {"a": 1}])
def test_a_filter_that_is_not_text_is_refused_clearly(not_text):
    assert "expected a string" in error_for(not_text).message
    assert "expected a string" in error_for([not_text], parse_order_by).message


def test_errors_are_invalid_parameter_errors_for_http_400():
    err = error_for("params.lr = 0.1")
    assert isinstance(err, InvalidParameter)
    assert err.http_status == 400 and err.error_code == "INVALID_PARAMETER_VALUE"


def test_an_error_points_at_the_character_with_a_caret():
    err = error_for("params.lr = 0.1")
    assert "expected a quoted string after 'params.lr ='" in err.message
    assert "at character 13" in err.message
    lines = err.message.splitlines()
    assert lines[-2].endswith("params.lr = 0.1")
    assert lines[-1].index("^") == lines[-2].index("0.1")
    assert err.position == 12


def test_or_is_refused_with_the_reason():
    err = error_for("metrics.a > 1 OR metrics.b < 2")
    assert "Invalid clause(s) in filter string: 'OR'" in err.message
    assert "only AND is supported" in err.message
    assert err.position == 14


@pytest.mark.parametrize(
    ("filter_string", "expected", "position"),
    [
        ("metrics.a LIKE 'x'", "metrics cannot use LIKE; use one of: > >= = != < <=", 10),
        ("metrics.a IS NULL", "metrics cannot use IS NULL", 10),
        ("metrics.a = 'x'", "expected a number (without quotes) after 'metrics.a ='", 12),
        ("metrics.a = abc", "expected a number after 'metrics.a ='", 12),
        ("metrics.a = 1x", "expected a number after 'metrics.a ='", 12),
        ("metrics.a = 1.2.3", "expected a number after 'metrics.a ='", 12),
        ("params.lr > '1'", "params cannot use >; use one of: = != LIKE ILIKE IS NULL", 10),
        ("tags.t IN ('a')", "tags cannot use IN", 7),
        ("start_time = 'x'", "expected a number (without quotes) after 'start_time ='", 13),
        ("status > 'x'", "status cannot use >", 7),
        ("run_id LIKE 5", "expected a quoted string after 'run_id LIKE'", 12),
        ("run_id IN 'a'", "expected a parenthesised list of quoted strings after 'run_id IN'", 10),
        ("run_id IN ()", "expected a quoted string after 'run_id IN ('", 11),
        ("run_id IN ('a' 'b')", "expected ',' or ')' in the list of values", 15),
        ("run_id IN ('a',)", "expected a quoted string after 'run_id IN (..., '", 15),
        ("datasets.name = 'x'", "searching by datasets is not supported", 0),
        ("foo = 'x'", "unknown identifier 'foo'; expected metrics.<key>", 0),
        ("attributes.foo = 'x'", "unknown attribute 'foo'; runs have run_id, run_name", 11),
        ('"metrics.my m" > 1', "quote only the key, e.g. metrics.`my m`", 0),
        ('"bogus" = 1', "unknown identifier 'bogus'", 0),
        ("metrics = 1", "expected '.' and a key after 'metrics'", 7),
        ("metrics. > 1", "expected a key after 'metrics.'", 8),
        ("metrics.a == 1", "use '=' to compare, not '=='", 10),
        ("metrics.a 1", "expected a comparison operator after 'metrics.a'", 10),
        ("metrics.a", "expected a comparison operator after 'metrics.a'", 9),
        ("params.a NOT LIKE 'x'", "expected IN after NOT", 9),
        ("params.a IS NUL", "expected IS NULL or IS NOT NULL", 9),
        ("params.a = 'x", "unterminated text: no closing ' for this one", 11),
        ("params.`a = 'x'", "unterminated text: no closing ` for this one", 7),
        ("metrics.a > 1 AND", "expected a clause after AND", 17),
        ("metrics.a > 1 AND   ", "expected a clause after AND", 20),
        ("AND metrics.a > 1", "unknown identifier 'AND'", 0),
        ("metrics.a > 1 metrics.b < 2", "expected AND or the end of the filter", 14),
        ("metrics.a > 1 && metrics.b < 2", "expected AND or the end of the filter", 14),
        ("(metrics.a > 1)", "parentheses are not supported; join clauses with AND", 0),
        ("metrics.a > 1;", "expected AND or the end of the filter", 13),
    ],
)
def test_each_mistake_gets_a_message_saying_what_was_expected_where(
    filter_string, expected, position
):
    err = error_for(filter_string)
    assert expected in err.message
    assert err.position == position
    assert f"at character {position + 1} of the filter" in err.message


def test_the_caret_stays_aligned_when_the_filter_spans_lines():
    err = error_for("metrics.a > 1\nAND\tparams.b > 'x'")
    shown, caret = err.message.splitlines()[-2:]
    assert shown.endswith("metrics.a > 1 AND params.b > 'x'")
    assert shown[caret.index("^")] == ">"


# -- order by ---------------------------------------------------------------------------------


def test_order_by_defaults_to_ascending_and_accepts_asc_desc_in_any_case():
    assert parse_order_by(["metrics.loss DESC", "attributes.start_time", "params.lr asc"]) == [
        OrderTerm("metric", "loss", False),
        OrderTerm("attribute", "start_time", True),
        OrderTerm("param", "lr", True),
    ]


def test_order_by_takes_the_same_identifiers_as_filters():
    assert parse_order_by(["metrics.`my metric` desc", 'tags."a b"', "created DESC"]) == [
        OrderTerm("metric", "my metric", False),
        OrderTerm("tag", "a b", True),
        OrderTerm("attribute", "start_time", False),
    ]
    assert parse_order_by(['"run name"', "status"])[0] == OrderTerm("attribute", "run_name")


def test_no_order_by_means_no_terms():
    assert parse_order_by(None) == [] and parse_order_by([]) == []


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("metrics.a DESCENDING", "expected ASC, DESC or nothing after 'metrics.a'"),
        ("metrics.my metric DESC", "expected ASC, DESC or nothing after 'metrics.my'"),
        ("metrics.a DESC ASC", "expected nothing after 'metrics.a DESC'"),
        ("", "expected an identifier"),
        ("bogus", "unknown identifier 'bogus'"),
    ],
)
def test_bad_order_by_entries_are_explained(entry, expected):
    err = error_for([entry], parse_order_by)
    assert expected in err.message
    assert f"order_by entry {entry!r}" in err.message


def test_ordering_twice_by_one_field_is_refused():
    err = error_for(["start_time DESC", "created"], parse_order_by)
    assert "orders by the same field twice" in err.message


# -- experiments ------------------------------------------------------------------------------


def test_experiment_filters_cover_name_tags_and_times():
    assert parse_experiment_filter(
        "name LIKE 'exp%' AND tags.team = 'ml' AND creation_time > 5 AND "
        "attributes.last_update_time <= 9 AND experiment_id IN ('1', '2')"
    ) == [
        Comparison("attribute", "name", "LIKE", "exp%"),
        Comparison("tag", "team", "=", "ml"),
        Comparison("attribute", "creation_time", ">", 5),
        Comparison("attribute", "last_update_time", "<=", 9),
        Comparison("attribute", "experiment_id", "IN", ("1", "2")),
    ]
    assert parse_experiment_filter(None) == []


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.a > 1", "experiments have no metrics"),
        ("params.a = 'x'", "experiments have no params"),
        ("run_name = 'x'", "unknown identifier 'run_name'"),
        ("name > 'x'", "name cannot use >"),
        ("experiment_id LIKE '1%'", "experiment_id cannot use LIKE"),
        ("creation_time = 'x'", "expected a number"),
    ],
)
def test_experiment_filter_mistakes_are_explained(filter_string, expected):
    assert expected in error_for(filter_string, parse_experiment_filter).message


def test_experiment_order_by_takes_its_four_attributes():
    assert parse_experiment_order_by(
        ["name", "creation_time DESC", "last_update_time asc", "experiment_id"]
    ) == [
        OrderTerm("attribute", "name", True),
        OrderTerm("attribute", "creation_time", False),
        OrderTerm("attribute", "last_update_time", True),
        OrderTerm("attribute", "experiment_id", True),
    ]
    assert (
        "experiments can be ordered by"
        in error_for(["tags.team"], parse_experiment_order_by).message
    )


# -- properties -------------------------------------------------------------------------------

KEY_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
keys = st.text(KEY_CHARS, min_size=1, max_size=12)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
numbers = st.floats(allow_nan=False, width=64)
timestamps = st.integers(min_value=-(2**63), max_value=2**63 - 1)

RUN_STRING_ATTRS = ["run_id", "run_name", "status", "user_id", "artifact_uri"]


@st.composite
def run_comparisons(draw) -> Comparison:
    kind = draw(st.sampled_from(["metric", "param", "tag", "string_attr", "numeric_attr"]))
    if kind == "metric":
        return Comparison(
            "metric", draw(keys), draw(st.sampled_from(search.NUMERIC_OPS)), draw(numbers)
        )
    if kind in ("param", "tag"):
        op = draw(st.sampled_from(search.VALUE_OPS))
        value = None if op.startswith("IS ") else draw(texts)
        return Comparison(kind, draw(keys), op, value)
    if kind == "numeric_attr":
        key = draw(st.sampled_from(["start_time", "end_time"]))
        return Comparison(
            "attribute", key, draw(st.sampled_from(search.NUMERIC_OPS)), draw(timestamps)
        )
    op = draw(st.sampled_from(search.STRING_ATTRIBUTE_OPS))
    value = (
        tuple(draw(st.lists(texts, min_size=1, max_size=3))) if op.endswith("IN") else draw(texts)
    )
    return Comparison("attribute", draw(st.sampled_from(RUN_STRING_ATTRS)), op, value)


PREFIXES = {
    "metric": ["metrics", "metric", "METRICS"],
    "param": ["params", "param", "parameters", "parameter", "Params"],
    "tag": ["tags", "tag", "TAG"],
    "attribute": ["attributes", "attribute", "attr", "run", ""],
}


def randomly_cased(draw, word: str) -> str:
    return "".join(c.upper() if draw(st.booleans()) else c.lower() for c in word)


def quote(text: str, mark: str) -> str:
    return mark + text.replace(mark, mark * 2) + mark


def render(draw, c: Comparison) -> str:
    """The comparison written the way some user might: any alias, quoting, case and spacing."""
    space = st.sampled_from([" ", "  ", "\t", "\n "])
    prefix = draw(st.sampled_from(PREFIXES[c.entity]))
    bare_ok = search._BARE_KEY.fullmatch(c.key) is not None
    key_style = draw(st.sampled_from(["bare", "`", '"'] if bare_ok else ["`", '"']))
    key = c.key if key_style == "bare" else quote(c.key, key_style)
    ident = f"{prefix}.{key}" if prefix else key
    op = c.op if c.op[0] in "<>=!" else " ".join(randomly_cased(draw, w) for w in c.op.split())
    if op[0].isalpha():
        op = draw(space) + op
    else:
        op = draw(st.sampled_from(["", " "])) + op
    if c.value is None:
        return ident + op
    if isinstance(c.value, tuple):
        items = ", ".join(quote(v, draw(st.sampled_from("'\""))) for v in c.value)
        value = f"({items})"
    elif isinstance(c.value, str):
        value = quote(c.value, draw(st.sampled_from("'\"")))
    else:
        value = search._format_value(c.value)
    return f"{ident}{op}{draw(space)}{value}"


@settings(max_examples=300, deadline=None)
@given(st.lists(run_comparisons(), max_size=4), st.data())
def test_any_valid_filter_parses_back_to_its_comparisons(comparisons, data):
    joiners = [data.draw(st.sampled_from([" AND ", " and ", "\nAnd  "])) for _ in comparisons]
    text = "".join(
        (joiners[i] if i else "") + render(data.draw, c) for i, c in enumerate(comparisons)
    )
    assert parse_filter(text) == comparisons


@settings(max_examples=300, deadline=None)
@given(st.lists(run_comparisons(), max_size=4))
def test_format_filter_writes_filters_that_parse_back(comparisons):
    assert parse_filter(format_filter(comparisons)) == comparisons


TOKENS = [
    "metrics.a",
    "params.b",
    "tags.`c d`",
    "attributes.run_id",
    "run_name",
    "start_time",
    "datasets.x",
    "=",
    "!=",
    "<",
    ">=",
    "==",
    "<>",
    "LIKE",
    "ILIKE",
    "IN",
    "NOT",
    "IS",
    "NULL",
    "AND",
    "OR",
    "and",
    "(",
    ")",
    ",",
    "'x'",
    '"y"',
    "'",
    '"',
    "`",
    "1",
    "-2.5e3",
    ".",
    "ASC",
    "DESC",
    "\\",
    "%",
    "\n",
    "é",
    "\x00",
]
garbage = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(TOKENS), max_size=10).map(" ".join),
    st.lists(st.sampled_from(TOKENS), max_size=10).map("".join),
)


@settings(max_examples=500, deadline=None)
@given(garbage)
def test_garbage_filters_fail_only_with_filter_syntax_errors(text):
    for parse in (parse_filter, parse_experiment_filter):
        try:
            parse(text)
        except FilterSyntaxError as err:
            assert 0 <= err.position <= len(text)
            assert err.message.splitlines()[-1].strip() == "^"


@settings(max_examples=300, deadline=None)
@given(st.lists(garbage, max_size=3))
def test_garbage_order_by_fails_only_with_filter_syntax_errors(entries):
    for parse in (parse_order_by, parse_experiment_order_by):
        try:
            parse(entries)
        except FilterSyntaxError:
            pass
