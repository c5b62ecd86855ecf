"""Reading a history back from its chunks: the same points, in the same order, as writable
arrays, whether one batch or many small writes (one point per commit) stored them."""

from __future__ import annotations

import math

from notebook_tracker.store.metric_chunks import pack_rows, unpack_history


def _chunks(rows: list[tuple[str, str, float, int, int]]) -> list[tuple[bytes, bytes, bytes]]:
    return [(c["steps"], c["timestamps"], c["values"]) for c in pack_rows(rows)]


def test_history_from_many_small_chunks_equals_one_batch() -> None:
    rows = [("r", "m", float(i) if i != 7 else math.nan, 1_000 + i, i) for i in range(300)]
    one = unpack_history("m", _chunks(rows))
    many = unpack_history("m", [c for row in rows for c in _chunks([row])])
    assert list(many.steps) == list(one.steps) == list(range(300))
    assert list(many.timestamps) == list(one.timestamps)
    assert math.isnan(many.values[7]) and list(many.values[8:]) == list(one.values[8:])


def test_history_out_of_order_chunks_read_back_sorted_by_step() -> None:
    rows = [("r", "m", float(s), 1_000, s) for s in (5, 1, 3)]
    history = unpack_history("m", [c for row in rows for c in _chunks([row])])
    assert list(history.steps) == [1, 3, 5] and list(history.values) == [1.0, 3.0, 5.0]


def test_history_arrays_belong_to_the_caller() -> None:
    history = unpack_history("m", _chunks([("r", "m", 1.0, 1_000, 0)]))
    history.values[0] = 2.0  # a read-only view of the fetched bytes would raise here
    assert history.values[0] == 2.0
