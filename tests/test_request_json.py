"""A request body means the same whichever JSON reader reads it (validation.parse_json reads
most bodies by orjson, and sends what orjson reads differently, or refuses, to json)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notebook_tracker.errors import InvalidParameter
from notebook_tracker.validation import parse_json


def _same(a: object, b: object) -> bool:
    """Equal values of equal types all the way down (NaN equal to NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b  # type: ignore[arg-type]
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)  # type: ignore[attr-defined,index]
    return a == b


@pytest.mark.parametrize(
    "body",
    [
        b'{"run_id": "r", "metrics": [{"key": "m", "value": 0.5, "timestamp": 1, "step": 2}]}',
        b'{"step": 123456789012345678901234567890}',  # orjson would read a float
        b'{"step": -9223372036854775809, "value": 9223372036854775807}',
        b'{"value": 18446744073709551616}',
        b'{"value": NaN, "a": Infinity, "b": -Infinity}',  # Python's json.dumps writes these
        b'{"value": 1e400, "b": -1e400, "c": 1e-400, "d": 5e-324}',
        b'\xef\xbb\xbf{"a": 1}',  # a UTF-8 byte order mark
        b'{"a": 1, "a": 2}',
        b'{"a": "\\ud83d\\ude00 \\u0000 \\" \\\\"}',
        b'{"id": "0123456789012345678901234567890a"}',  # digits in a string
        '{"a": "é☃"}'.encode(),
        '{"text": "str, not bytes"}',
    ],
)
def test_a_body_reads_as_json_reads_it(body: bytes | str):
    assert _same(parse_json(body), json.loads(body))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_document_json_writes_reads_back_the_same(value: object):
    body = json.dumps(value)
    assert _same(parse_json(body.encode()), json.loads(body))
    assert _same(parse_json(body), json.loads(body))


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"a": "\\ud800"}', "surrogate"),
        (b"[" * 65 + b"]" * 65, "nest"),
        (b"[" * 5000 + b"]" * 5000, "nest"),
        (b'{"a": 1,}', "not valid JSON"),
        (b'{"a": "\xff"}', "not valid JSON"),
        (b"", "not valid JSON"),
    ],
)
def test_a_bad_body_is_refused_with_the_reason(body: bytes, says: str):
    with pytest.raises(InvalidParameter) as refused:
        parse_json(body)
    assert says.lower() in str(refused.value).lower()
