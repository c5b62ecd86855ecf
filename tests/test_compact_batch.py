"""The compact batch frame (wire/batch.py): exact round trips and strict decoding."""

from __future__ import annotations

import json
import math
import struct

import pytest

from notebook_tracker.errors import InvalidParameter
from notebook_tracker.wire import batch

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
RUN = "a" * 32


def _frame(header: object, payload: bytes = b"", size: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<4sI", b"NTB1", len(raw) if size is None else size) + raw + payload


def test_a_frame_round_trips_every_float_and_64_bit_integer_exactly():
    rows = [
        (RUN, "loss", math.nan, INT64_MAX, INT64_MIN),
        (RUN, "loss", math.inf, INT64_MIN, INT64_MAX),
        (RUN, "acc", -math.inf, 0, -1),
        (RUN, "loss", -0.0, 1_700_000_000_000, 0),
        (RUN, "acc", 5e-324, 1, 2**53 + 1),
        (RUN, "loss", 0.1 + 0.2, 2, 7),
    ]
    frame = batch.decode(batch.encode(RUN, rows))
    assert frame.run_id == RUN
    assert [c.key for c in frame.columns] == ["loss", "acc"]
    assert frame.points == 6
    back = batch.rows(frame)
    by_key = {k: [r for r in rows if r[1] == k] for k in ("loss", "acc")}
    assert len(back) == len(rows)
    for got, want in zip(back, by_key["loss"] + by_key["acc"], strict=True):
        assert got[:2] == want[:2] and got[3:] == want[3:]
        assert (math.isnan(got[2]) and math.isnan(want[2])) or got[2] == want[2]
        assert math.copysign(1, got[2]) == math.copysign(1, want[2])


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"", "shorter than the 8-byte prefix"),
        (b"XXXX\x00\x00\x00\x00", "not b'NTB1'"),
        (_frame({"run_id": RUN, "keys": []}, size=10_000), "header claims 10000 bytes"),
        (_frame({"run_id": RUN, "keys": [["m", 1]]})[:-2] + b"!!", "header is not JSON"),
        (_frame([1, 2]), 'exactly "run_id" and "keys"'),
        (_frame({"run_id": "", "keys": [["m", 1]]}), "run_id must be a non-empty string"),
        (_frame({"run_id": RUN, "keys": []}), "1 to 10000 [key, count] pairs"),
        (_frame({"run_id": RUN, "keys": [["m", 0]]}), "1 <= count"),
        (_frame({"run_id": RUN, "keys": [["m", -5]]}), "1 <= count"),
        (_frame({"run_id": RUN, "keys": [["m", True]]}), "1 <= count"),
        (_frame({"run_id": RUN, "keys": [["m", 2]]}, b"\x00" * 24), "announces 2 points"),
        (_frame({"run_id": RUN, "keys": [["m", 1]]}, b"\x00" * 25), "the frame has"),
        (_frame({"run_id": RUN, "keys": [["bad/../key", 1]]}, b"\x00" * 24), "bad/../key"),
    ],
)
def test_a_malformed_frame_is_refused_naming_the_problem(data, named):
    with pytest.raises(InvalidParameter, match="Malformed compact batch frame") as caught:
        batch.decode(data)
    assert named in caught.value.message


def test_a_frame_announcing_more_points_than_allowed_is_refused_before_any_allocation():
    # A 60-byte frame claiming a million points per key: refused from the header alone.
    header = {"run_id": RUN, "keys": [["a", batch.MAX_POINTS], ["b", batch.MAX_POINTS]]}
    with pytest.raises(InvalidParameter, match="at most 1000000 per frame"):
        batch.decode(_frame(header))
