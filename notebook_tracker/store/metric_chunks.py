"""Packing metric points into chunks and reading them back as a history."""

from __future__ import annotations

import math
import struct
import sys
from array import array
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from notebook_tracker.entities import MetricHistory

_SWAP = sys.byteorder != "little"
_INT64 = struct.Struct("<q")
_FLOAT64 = struct.Struct("<d")


def _pack(typecode: str, items: list[Any]) -> bytes:
    packed = array(typecode, items)
    if _SWAP:
        packed.byteswap()
    return packed.tobytes()


def pack_rows(rows: Iterable[tuple[str, str, float, int, int]]) -> list[dict[str, Any]]:
    """(run_id, key, value, timestamp, step) rows -> one chunk row per (run, key)."""
    if isinstance(rows, (list, tuple)):
        # A synchronous point, or a JSON log-batch of one point per key: a chunk per row, built
        # with struct (a third of the cost of grouping into arrays).
        if len(rows) == 1 or len({(r[0], r[1]) for r in rows}) == len(rows):
            return [_pack_point(*row) for row in rows]
    grouped: dict[tuple[str, str], tuple[list[int], list[int], list[float]]] = {}
    for run_id, key, value, timestamp, step in rows:
        cols = grouped.get((run_id, key))
        if cols is None:
            cols = grouped[(run_id, key)] = ([], [], [])
        cols[0].append(step)
        cols[1].append(timestamp)
        cols[2].append(value)
    return [
        {
            "run_uuid": run_id,
            "key": key,
            "count": len(steps),
            "min_step": min(steps),
            "max_step": max(steps),
            "steps": _pack("q", steps),
            "timestamps": _pack("q", timestamps),
            "values": _pack("d", values),
        }
        for (run_id, key), (steps, timestamps, values) in grouped.items()
    ]


def _pack_point(run_id: str, key: str, value: float, timestamp: int, step: int) -> dict[str, Any]:
    """One point's chunk (a synchronous write), without the grouping of `pack_rows`."""
    try:
        steps, timestamps = _INT64.pack(step), _INT64.pack(timestamp)
    except struct.error:
        raise OverflowError(f"step {step} or timestamp {timestamp} is beyond 64 bits") from None
    return {
        "run_uuid": run_id,
        "key": key,
        "count": 1,
        "min_step": step,
        "max_step": step,
        "steps": steps,
        "timestamps": timestamps,
        "values": _FLOAT64.pack(value),
    }


def latest_points(rows: Iterable[tuple[str, str, float, int, int]]) -> list[dict[str, Any]]:
    """The last point per (run, key) by (step, timestamp): rows for the latest_metrics upsert."""
    latest: dict[tuple[str, str], tuple[int, int, float]] = {}
    for run_id, key, value, timestamp, step in rows:
        current = latest.get((run_id, key))
        if current is None or (step, timestamp) >= (current[0], current[1]):
            latest[(run_id, key)] = (step, timestamp, value)
    isnan = math.isnan
    return [
        {
            "run_uuid": r,
            "key": k,
            "step": st,
            "timestamp": ts,
            "value": 0.0 if isnan(v) else v,
            "is_nan": isnan(v),
        }
        for (r, k), (st, ts, v) in latest.items()
    ]


def latest_columns(
    rows: Sequence[tuple[str, str, float, int, int]], sort: bool = False
) -> list[list[Any]]:
    """The last point of each (run, key) by (step, timestamp), a later row winning a tie (what
    upserting the rows one by one leaves), as the upsert's columns (run, key, step, timestamp,
    value, is_nan); NaN as 0.0 with is_nan set. With `sort`, in (run, key) order: the order
    in which PostgreSQL's upserts lock rows."""
    if not rows:
        return [[], [], [], [], [], []]
    columns = list(zip(*rows, strict=True))
    runs, keys = columns[0], columns[1]
    one_run = runs.count(runs[0]) == len(runs)  # a request's rows
    pairs = set(keys) if one_run else set(zip(runs, keys, strict=True))
    ordered: Sequence[tuple[str, str, float, int, int]] | None = None  # None: `columns` hold
    if len(pairs) == len(rows):  # each key once
        if sort:
            ordered = sorted(rows, key=_KEY if one_run else _RUN_KEY)
    else:
        latest: dict[tuple[str, str], tuple[str, str, float, int, int]] = {}
        for row in rows:
            current = latest.get((row[0], row[1]))
            if current is None or (row[4], row[3]) >= (current[4], current[3]):
                latest[(row[0], row[1])] = row
        ordered = [latest[k] for k in sorted(latest)] if sort else list(latest.values())
    if ordered is not None:
        columns = list(zip(*ordered, strict=True))
    runs, keys, values, timestamps, steps = columns
    nan = [value != value for value in values]  # v != v: NaN only
    if True in nan:
        values = tuple(0.0 if n else v for v, n in zip(values, nan, strict=True))
    return [list(runs), list(keys), list(steps), list(timestamps), list(values), nan]


_KEY = itemgetter(1)
_RUN_KEY = itemgetter(0, 1)


def unpack_history(key: str, chunks: Sequence[tuple[bytes, bytes, bytes]]) -> MetricHistory:
    """Concatenate chunks in write order, then order by (step, timestamp) if needed (stable)."""
    import numpy as np

    if not chunks:
        empty_i = np.empty(0, dtype=np.int64)
        return MetricHistory(key, empty_i, empty_i.copy(), np.empty(0, dtype=np.float64))
    # One join of the raw bytes per column, not an array per chunk: a history written one point
    # per commit (tens of chunks) then costs the same as one written in a batch. bytearray: the
    # arrays are the caller's to modify.
    steps = np.frombuffer(bytearray().join(c[0] for c in chunks), dtype="<i8")
    timestamps = np.frombuffer(bytearray().join(c[1] for c in chunks), dtype="<i8")
    values = np.frombuffer(bytearray().join(c[2] for c in chunks), dtype="<f8")
    if len(steps) > 1:
        ds = np.diff(steps)
        ordered = bool(np.all((ds > 0) | ((ds == 0) & (np.diff(timestamps) >= 0))))
        if not ordered:
            order = np.lexsort((timestamps, steps))
            steps, timestamps, values = steps[order], timestamps[order], values[order]
    return MetricHistory(key, steps, timestamps, values)
