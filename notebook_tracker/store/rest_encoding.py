"""Metric rows encoded for the wire, once, as the outbox sends and journals them.

Each DATA payload is `run_id\ncount\n` then the body: MLflow's JSON `runs/log-batch` (any
server) or a compact frame (wire/batch.py; a notebook-tracker server that says it takes them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from notebook_tracker.wire import batch

POINTS_PER_BODY = 1000
POINTS_PER_FRAME = 100_000  # a compact frame of about 2.4 MB, well within the body limit


class _JsonKeys(dict[str, str]):
    """Metric keys as JSON strings, each encoded once per call."""

    def __missing__(self, key: str) -> str:
        text = self[key] = json.dumps(key)
        return text


_ITEM = '{"key":%s,"value":%r,"timestamp":%d,"step":%d}'
# repr() spells non-finite floats in a way JSON does not; MLflow's wire spells them as strings.
_NON_FINITE = (
    ('"value":nan', '"value":"NaN"'),
    ('"value":-inf', '"value":"-Infinity"'),
    ('"value":inf', '"value":"Infinity"'),
)


def encode_bodies(rows: Sequence[tuple[str, str, float, int, int]]) -> list[bytes]:
    """DATA payloads `run_id\ncount\n{log-batch JSON}`, in row order within each run.

    Built with one format per point (this runs in the flusher, beside the user's loop, so it
    is kept cheap); a key is JSON-escaped, so `"value":nan` can only be a value."""
    if not rows:
        return []
    by_run: dict[str, Sequence[tuple[str, str, float, int, int]]]
    if len({row[0] for row in rows}) == 1:
        by_run = {rows[0][0]: rows}
    else:
        grouped: dict[str, list[tuple[str, str, float, int, int]]] = {}
        for row in rows:
            grouped.setdefault(row[0], []).append(row)
        by_run = dict(grouped)
    keys = _JsonKeys()
    out = []
    for run_id, run_rows in by_run.items():
        head = f'{{"run_id":{json.dumps(run_id)},"metrics":['
        for start in range(0, len(run_rows), POINTS_PER_BODY):
            chunk = run_rows[start : start + POINTS_PER_BODY]
            items = ",".join([_ITEM % (keys[k], float(v), t, st) for _, k, v, t, st in chunk])
            if "n" in items and ('"value":nan' in items or "inf" in items):
                for bad, good in _NON_FINITE:
                    items = items.replace(bad, good)
            out.append(f"{run_id}\n{len(chunk)}\n{head}{items}]}}".encode())
    return out


def encode_frames(
    rows: Sequence[tuple[str, str, float, int, int]], per_frame: int = POINTS_PER_FRAME
) -> list[bytes]:
    """DATA payloads `run_id\ncount\n{compact frame}` (wire/batch.py), row order kept."""
    grouped: dict[str, list[tuple[str, str, float, int, int]]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    out = []
    for run_id, run_rows in grouped.items():
        for start in range(0, len(run_rows), per_frame):
            chunk = run_rows[start : start + per_frame]
            out.append(f"{run_id}\n{len(chunk)}\n".encode() + batch.encode(run_id, chunk))
    return out
