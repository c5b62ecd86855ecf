"""The compact batch frame: one run's metric points as columns, for our own client and server.

A frame is

    b"NTB1" | header length (uint32, little-endian) | header (UTF-8 JSON) | columns

where the header is `{"run_id": str, "keys": [[key, count], ...]}` and the columns follow in
the order of `keys`: for each key, `count` steps (int64), then `count` timestamps (int64),
then `count` values (float64), all little-endian. NaN and infinities travel as themselves,
steps and timestamps as full 64-bit integers: nothing is lost on the way.

Those are exactly the columns the SQL store keeps per (run, key) chunk, so the server stores
them without touching a single point in Python. Decoding is strict: every size is checked
against the frame's length before anything is sliced, so a frame can never make the server
allocate more than it sent; a bad one raises InvalidParameter naming what is wrong.
"""

from __future__ import annotations

import json
import struct
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from notebook_tracker import validation
from notebook_tracker.errors import InvalidParameter

MAGIC = b"NTB1"
CONTENT_TYPE = "application/x-notebook-tracker-batch"
FORMAT = "ntb1"
MAX_HEADER_BYTES = 1024 * 1024
MAX_KEYS = 10_000
# A frame this size is about 24 MB; the client sends far smaller ones.
MAX_POINTS = 1_000_000
POINT_BYTES = 24
_PREFIX = struct.Struct("<4sI")
_SWAP = sys.byteorder != "little"


@dataclass(frozen=True)
class Column:
    """One key's points: little-endian int64 steps and timestamps, float64 values."""

    key: str
    count: int
    steps: bytes
    timestamps: bytes
    values: bytes


@dataclass(frozen=True)
class Frame:
    run_id: str
    columns: list[Column]

    @property
    def points(self) -> int:
        return sum(c.count for c in self.columns)


def _le(typecode: str, items: Sequence[float] | Sequence[int]) -> bytes:
    packed = array(typecode, items)
    if _SWAP:
        packed.byteswap()
    return packed.tobytes()


def encode(run_id: str, rows: Sequence[tuple[str, str, float, int, int]]) -> bytes:
    """One frame of `rows` ((run_id, key, value, timestamp, step), all of `run_id`), keys in
    first-seen order and points in row order within each key."""
    grouped: dict[str, tuple[list[int], list[int], list[float]]] = {}
    for _, key, value, timestamp, step in rows:
        cols = grouped.get(key)
        if cols is None:
            cols = grouped[key] = ([], [], [])
        cols[0].append(step)
        cols[1].append(timestamp)
        cols[2].append(value)
    header = json.dumps(
        {"run_id": run_id, "keys": [[k, len(c[0])] for k, c in grouped.items()]},
        separators=(",", ":"),
    ).encode()
    parts = [_PREFIX.pack(MAGIC, len(header)), header]
    for steps, timestamps, values in grouped.values():
        parts += [_le("q", steps), _le("q", timestamps), _le("d", values)]
    return b"".join(parts)


def _bad(problem: str) -> InvalidParameter:
    return InvalidParameter(
        f"Malformed compact batch frame: {problem}. Send frames built by "
        "notebook_tracker.wire.batch.encode, or use runs/log-batch (JSON)."
    )


def _header(data: bytes) -> tuple[str, list[tuple[str, int]], int]:
    if len(data) < _PREFIX.size:
        raise _bad(f"{len(data)} bytes is shorter than the {_PREFIX.size}-byte prefix")
    magic, size = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise _bad(f"it starts with {magic!r}, not {MAGIC!r}")
    if size > MAX_HEADER_BYTES or _PREFIX.size + size > len(data):
        raise _bad(f"the header claims {size} bytes; the frame has {len(data) - _PREFIX.size}")
    try:
        header = json.loads(data[_PREFIX.size : _PREFIX.size + size])
    except ValueError as exc:
        raise _bad(f"the header is not JSON ({exc})") from None
    if not isinstance(header, dict) or set(header) != {"run_id", "keys"}:
        raise _bad('the header must be a JSON object with exactly "run_id" and "keys"')
    run_id, keys = header["run_id"], header["keys"]
    if not isinstance(run_id, str) or not run_id or "\x00" in run_id:
        raise _bad("run_id must be a non-empty string")
    if not isinstance(keys, list) or not 0 < len(keys) <= MAX_KEYS:
        raise _bad(f"keys must be a list of 1 to {MAX_KEYS} [key, count] pairs")
    out = []
    for item in keys:
        ok = isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
        if not ok or type(item[1]) is not int or not 0 < item[1] <= MAX_POINTS:
            raise _bad(f"{item!r} is not a [key, count] pair with 1 <= count <= {MAX_POINTS}")
        out.append((item[0], item[1]))
    return run_id, out, _PREFIX.size + size


def decode(data: bytes) -> Frame:
    """The frame in `data`; InvalidParameter naming the problem if it is not exactly one."""
    run_id, keys, offset = _header(data)
    total = sum(count for _, count in keys)
    if total > MAX_POINTS:
        raise _bad(f"{total} points; at most {MAX_POINTS} per frame")
    expected = offset + total * POINT_BYTES
    if expected != len(data):
        raise _bad(
            f"the header announces {total} points ({expected} bytes in all); the frame has "
            f"{len(data)} bytes"
        )
    columns = []
    view = memoryview(data)
    for key, count in keys:
        try:
            validation.validate_key(key, "metric")
        except InvalidParameter as exc:
            raise _bad(exc.message) from None
        width = count * 8
        steps = bytes(view[offset : offset + width])
        timestamps = bytes(view[offset + width : offset + 2 * width])
        values = bytes(view[offset + 2 * width : offset + 3 * width])
        offset += 3 * width
        columns.append(Column(key, count, steps, timestamps, values))
    return Frame(run_id, columns)


def rows(frame: Frame) -> list[tuple[str, str, float, int, int]]:
    """The frame's points as (run_id, key, value, timestamp, step) rows (for JSON fallback)."""
    out = []
    for c in frame.columns:
        steps, timestamps = array("q", c.steps), array("q", c.timestamps)
        vals = array("d", c.values)
        if _SWAP:
            steps.byteswap()
            timestamps.byteswap()
            vals.byteswap()
        out += [
            (frame.run_id, c.key, v, t, s) for s, t, v in zip(steps, timestamps, vals, strict=True)
        ]
    return out
