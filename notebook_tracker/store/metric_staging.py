"""Staged points: a request's points of many keys in one `metric_chunks` row.

A JSON log-batch of 100 metrics at one step would otherwise write 100 one-point chunk rows, and
compaction would later rewrite every one of them. Instead a server's group write stores each
run's points as one *staged* row: key `STAGED_KEY` (no metric is named so), the points'
steps, timestamps and values in write order as any chunk holds them, `staged_keys` (the key
names, newline-separated: a key never holds one) and `key_index` (each point's position in
that list, little-endian int32).

Readers see staged points exactly as chunks: a history read takes its key's chunks and the
run's staged rows in one `chunk_id`-ordered query and picks its key's points out of the staged
ones (`history_parts`), so the concatenation is in write order as before.

Every STAGE_ROWS staged rows of a run (counted per process), `unstage` merges them, in the
writer's transaction, into one chunk per key. To keep each key's points in write order, the
key's ordinary chunks written since the first staged row are folded into that chunk too (in
`chunk_id` order), so everything of the key before the first staged row stays before it and
everything after it lands in one chunk after it. Compaction unstages a run before merging any of
its keys' chunks (metric_compaction.compact_key), so a merge never reorders points across a
staged row.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any

STAGED_KEY = ""  # never a metric's name: validation.validate_key refuses the empty string
STAGED_COLUMNS = ("staged_keys", "key_index")
STAGE_MIN_KEYS = 8  # fewer keys of a run in a write: ordinary chunks (one per key)
# Staged rows of a run written by this process before they are merged. 16 -> 32: JSON log-batch
# at 4 connections 999 -> 1,053 req/s on SQLite. 32 -> 128, once PostgreSQL's latest values
# were folded on read and a merge was most of what PostgreSQL did for a request (a merge writes
# a chunk row a key, however many staged rows it merges): the same load on durable
# PostgreSQL 1,038-1,085 -> 1,192-1,248 req/s, PostgreSQL's CPU a request 0.50 -> 0.39 ms
# (256: no more). A key's history over a run's unmerged staged rows, 100 keys each: 31 rows
# 0.57 ms on SQLite and 1.4 ms on PostgreSQL, 127 rows 0.92 and 2.7 ms.
STAGE_ROWS = 128
# More points of a run in one write: ordinary chunks, which hold tens of points each then, and
# a history read never picks its points out of more than STAGE_ROWS x this many (131,072, as
# when 32 rows of 4,096 were merged). MLflow's log-batch holds 1,000 metrics at most.
STAGE_MAX_POINTS = 1024
_MAX_TRACKED_RUNS = 10_000
_SWAP = sys.byteorder != "little"
_RUN = itemgetter(0)

Row = tuple[str, str, float, int, int]
# (sql with :name parameters, parameters or a list of them) -> rows (fetchall) or []
Execute = Callable[[str, Any], Any]

INSERT_STAGED = (
    'INSERT INTO "metric_chunks" ("run_uuid", "key", "count", "min_step", "max_step", "steps", '
    '"timestamps", "values", "staged_keys", "key_index") VALUES (:run_uuid, :key, :count, '
    ":min_step, :max_step, :steps, :timestamps, :values, :staged_keys, :key_index)"
)
_FIRST_STAGED = (
    'SELECT min("chunk_id") FROM "metric_chunks" WHERE "run_uuid" = :run_id AND "key" = \'\''
)
_SINCE = (
    'SELECT "chunk_id", "key", "steps", "timestamps", "values", "staged_keys", "key_index" '
    'FROM "metric_chunks" WHERE "run_uuid" = :run_id AND "chunk_id" >= :first ORDER BY "chunk_id"'
)
_DELETE = 'DELETE FROM "metric_chunks" WHERE "chunk_id" = :chunk_id'
_INSERT_CHUNK = (
    'INSERT INTO "metric_chunks" ("run_uuid", "key", "count", "min_step", "max_step", "steps", '
    '"timestamps", "values") VALUES (:run_uuid, :key, :count, :min_step, :max_step, :steps, '
    ":timestamps, :values)"
)
_PG_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"
# PostgreSQL: a merge's rows in one statement each, arrays in, where a statement a row (even
# batched into one round trip) was parsed, planned and run ~130 times a merge: 0.14 ms of
# PostgreSQL's CPU per request of a JSON load merging every STAGE_ROWS requests.
_PG_DELETE = 'DELETE FROM "metric_chunks" WHERE "chunk_id" = ANY(CAST(:ids AS integer[]))'
CHUNK_ARRAYS = (
    ("run_uuid", "text"), ("key", "text"), ("count", "integer"), ("min_step", "bigint"),
    ("max_step", "bigint"), ("steps", "bytea"), ("timestamps", "bytea"), ("values", "bytea"),
)  # fmt: skip
# A staged row's columns: a chunk's and the two of its keys (PostgreSQL's one-statement write).
STAGED_ARRAYS = (*CHUNK_ARRAYS, ("staged_keys", "text"), ("key_index", "bytea"))
_PG_INSERT_CHUNKS = (
    'WITH "i" AS (INSERT INTO "metric_chunks" ('
    + ", ".join(f'"{name}"' for name, _ in CHUNK_ARRAYS)
    + ") SELECT * FROM unnest("
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in CHUNK_ARRAYS)
    + ') RETURNING "chunk_id") SELECT max("chunk_id") FROM "i"'
)


def delete_chunks(execute: Execute, dialect: str, ids: Sequence[int]) -> None:
    """Delete the metric_chunks rows `ids` in the caller's transaction."""
    if dialect == "postgresql":
        execute(_PG_DELETE, {"ids": list(ids)})
    else:
        execute(_DELETE, [{"chunk_id": chunk_id} for chunk_id in ids])


def _insert_chunks(execute: Execute, dialect: str, chunks: list[dict[str, Any]]) -> int:
    """Insert `chunks`; on PostgreSQL the last chunk id given, elsewhere 0."""
    if dialect == "postgresql":
        ids = execute(
            _PG_INSERT_CHUNKS, {name: [c[name] for c in chunks] for name, _ in CHUNK_ARRAYS}
        )
        return int(ids[0][0])
    execute(_INSERT_CHUNK, chunks)
    return 0


def _packed(typecode: str, items: Any) -> bytes:
    packed = array(typecode, items)
    if _SWAP:
        packed.byteswap()
    return packed.tobytes()


def split_rows(rows: Sequence[Row]) -> tuple[list[dict[str, Any]], list[Row], list[Row]]:
    """(staged rows to insert, the points they hold, the points left for ordinary chunks): a
    run's points are staged when they span STAGE_MIN_KEYS keys or more and are at most
    STAGE_MAX_POINTS. Raises OverflowError for a step or timestamp beyond 64 bits."""
    staged: list[dict[str, Any]] = []
    staged_points: list[Row] = []
    direct: list[Row] = []
    for points in _by_run(rows):
        row = _staged_row(points)
        if row is None:
            direct.extend(points)
        else:
            staged.append(row)
            staged_points.extend(points)
    return staged, staged_points, direct


def _by_run(rows: Sequence[Row]) -> list[Sequence[Row]]:
    """`rows` grouped by run, in order of first appearance (a request's rows: one group)."""
    if not rows:
        return []
    runs = list(map(_RUN, rows))
    if runs.count(runs[0]) == len(runs):
        return [rows]
    by_run: dict[str, list[Row]] = {}
    for row in rows:
        by_run.setdefault(row[0], []).append(row)
    return list(by_run.values())


def _staged_row(points: Sequence[Row]) -> dict[str, Any] | None:
    """The row staging one run's `points` (in write order), its columns taken in one pass
    (31 -> 19 us for a 100-metric request); None when they are to be ordinary chunks."""
    runs, keys, values, timestamps, steps = zip(*points, strict=True)
    names = dict.fromkeys(keys)  # in order of first appearance
    if len(names) < STAGE_MIN_KEYS or len(points) > STAGE_MAX_POINTS:
        return None
    if len(names) == len(keys):  # each key once: the key index is 0, 1, 2...
        key_index = _identity(len(keys))
    else:
        number = {key: n for n, key in enumerate(names)}
        key_index = _packed("i", [number[key] for key in keys])
    return _staged(runs[0], names, steps, timestamps, values, key_index)


def _staged(
    run_id: str,
    names: Iterable[str],
    steps: Sequence[int],
    timestamps: Sequence[int],
    values: Sequence[float],
    key_index: bytes,
) -> dict[str, Any]:
    return {
        "run_uuid": run_id,
        "key": STAGED_KEY,
        "count": len(steps),
        "min_step": min(steps),
        "max_step": max(steps),
        "steps": _packed("q", steps),
        "timestamps": _packed("q", timestamps),
        "values": _packed("d", values),
        "staged_keys": "\n".join(names),
        "key_index": key_index,
    }


def points_of(key: str, row: Sequence[Any]) -> tuple[bytes, bytes, bytes] | None:
    """`key`'s points (steps, timestamps, values) in a staged row (…, steps, timestamps, values,
    staged_keys, key_index); None if it has none."""
    steps, timestamps, values, staged_keys, key_index = row[-5:]
    positions = _positions(staged_keys)
    at = positions.get(key)
    if at is None:
        return None
    if len(key_index) == 4 * len(positions) and key_index == _identity(len(positions)):
        # Each key's one point, in key order (a log-batch of many keys at one step): a slice.
        end = 8 * at + 8
        return (
            bytes(steps[8 * at : end]),
            bytes(timestamps[8 * at : end]),
            bytes(values[8 * at : end]),
        )
    import numpy as np

    mine = np.frombuffer(key_index, dtype="<i4") == at
    if mine.all():
        return bytes(steps), bytes(timestamps), bytes(values)
    return (
        np.frombuffer(steps, dtype="<i8")[mine].tobytes(),
        np.frombuffer(timestamps, dtype="<i8")[mine].tobytes(),
        np.frombuffer(values, dtype="<f8")[mine].tobytes(),
    )


_POSITIONS: dict[str, dict[str, int]] = {}
_IDENTITIES: dict[int, bytes] = {}


def _positions(staged_keys: str) -> dict[str, int]:
    """key -> its number in a staged row's key list; a run's staged rows mostly share a list,
    so a read of many rows splits it once (a few lists kept)."""
    found = _POSITIONS.get(staged_keys)
    if found is None:
        if len(_POSITIONS) >= 64:
            _POSITIONS.clear()
        found = _POSITIONS[staged_keys] = {k: n for n, k in enumerate(staged_keys.split("\n"))}
    return found


def _identity(n: int) -> bytes:
    """The key_index of n points, one of each key in order."""
    found = _IDENTITIES.get(n)
    if found is None:
        if len(_IDENTITIES) >= 64:
            _IDENTITIES.clear()
        found = _IDENTITIES[n] = _packed("i", range(n))
    return found


def history_parts(key: str, rows: Sequence[Sequence[Any]]) -> list[tuple[bytes, bytes, bytes]]:
    """(steps, timestamps, values) parts of `key`'s history from rows (key, steps, timestamps,
    values, staged_keys, key_index) of its chunks and its run's staged rows, in chunk_id order."""
    parts = []
    for row in rows:
        if row[0] != STAGED_KEY:
            parts.append((row[1], row[2], row[3]))
            continue
        found = points_of(key, row)
        if found is not None:
            parts.append(found)
    return parts


def decode_points(rows: Sequence[Sequence[Any]], every_key: bool = False) -> tuple[Any, ...]:
    """The points of a run's chunk rows (key, steps, timestamps, values, staged_keys and
    key_index at [1] to [6], in write order), each numbered by its key: (key -> number, the rows
    taken, the numbers, [steps, timestamps, values]), numpy arrays in row order. Numbers go to
    the staged rows' keys in order of first appearance, then, with `every_key`, to the other
    chunks' keys; without it a chunk of a key no staged row names is left out. A run's staged
    rows mostly name the same keys in the same order, so each distinct list is read once."""
    import numpy as np

    names = {row[5]: row[5].split("\n") for row in rows if row[1] == STAGED_KEY}
    seen = dict.fromkeys(key for keys in names.values() for key in keys)
    ids = dict(zip(seen, range(len(seen)), strict=True))
    local = {text: np.array([ids[k] for k in keys], dtype=np.int64) for text, keys in names.items()}
    numbers, taken = [], []
    for row in rows:
        if row[1] == STAGED_KEY:
            numbers.append(local[row[5]][np.frombuffer(row[6], dtype="<i4")])
        elif every_key or row[1] in ids:
            number = ids.setdefault(row[1], len(ids))
            numbers.append(np.full(len(row[2]) // 8, number, dtype=np.int64))
        else:
            continue
        taken.append(row)
    points = [
        np.concatenate([np.frombuffer(row[i], dtype=dtype) for row in taken])
        for i, dtype in ((2, "<i8"), (3, "<i8"), (4, "<f8"))
    ]
    return ids, taken, np.concatenate(numbers), points


def unstage(execute: Execute, dialect: str, run_id: str) -> list[str]:
    """Merge `run_id`'s staged rows into one chunk per key (see the module's docstring), in the
    caller's write transaction; the keys that got a new chunk (sorted), [] when none was staged."""
    count = None
    if dialect == "postgresql":
        from notebook_tracker.store import latest_folding

        execute(_PG_LOCK, {"name": f"notebook-tracker staged {run_id}"})
        count = latest_folding.count_of(execute, run_id)  # before the rows: see `advance`
    first = execute(_FIRST_STAGED, {"run_id": run_id})
    if not first or first[0][0] is None:
        return []
    # Imported only now: every compaction asks, and a script that never staged has no numpy.
    import numpy as np

    rows = execute(_SINCE, {"run_id": run_id, "first": first[0][0]})
    # Every point of the staged keys since the first staged row, numbered by key (a key never
    # staged keeps its chunk), then one stable sort by that number: each key's points stay in
    # write order.
    ids, taken, numbers, points = decode_points(rows)
    gone = [row[0] for row in taken]
    order = np.argsort(numbers, kind="stable")
    columns = [column[order] for column in points]
    ordered = numbers[order]
    bounds = np.searchsorted(ordered, np.arange(len(ids) + 1))
    if not (bounds[1:] > bounds[:-1]).all():  # a staged key without a point: never written
        raise ValueError(f"a staged row of run {run_id} names a key it holds no point of")
    # Each key's bounds, step range and bytes taken for all keys at once, not per key.
    starts = bounds[:-1]
    low = np.minimum.reduceat(columns[0], starts).tolist()
    high = np.maximum.reduceat(columns[0], starts).tolist()
    steps, timestamps, values = (column.tobytes() for column in columns)
    edges = (bounds * 8).tolist()
    chunks = [
        {
            "run_uuid": run_id,
            "key": key,
            "count": (edges[n + 1] - edges[n]) // 8,
            "min_step": low[n],
            "max_step": high[n],
            "steps": steps[edges[n] : edges[n + 1]],
            "timestamps": timestamps[edges[n] : edges[n + 1]],
            "values": values[edges[n] : edges[n + 1]],
        }
        for n, key in enumerate(ids)
    ]
    delete_chunks(execute, dialect, gone)
    last = _insert_chunks(execute, dialect, chunks)
    if dialect == "postgresql":  # a server's staged writes left their latest values to folding
        latest_folding.upsert_latest(execute, run_id, list(ids), (ordered, *columns))
        latest_folding.advance(execute, run_id, count, last)
    return sorted(ids)


class StagedRuns:
    """Counts this process's staged rows per run: which runs are due to be unstaged."""

    def __init__(self, every: int = STAGE_ROWS) -> None:
        self.every = every
        self.rows: dict[str, int] = {}

    def due(self, run_ids: Sequence[str]) -> list[str]:
        """Count one staged row of each run; the runs due now, sorted (a fixed lock order)."""
        if len(self.rows) > _MAX_TRACKED_RUNS:
            self.rows.clear()
        due = []
        for run_id in run_ids:
            # A run's first count starts anywhere in the cycle but its end: runs started
            # together (a sweep, a team's notebooks) then merge at different requests, not all
            # in one, and a run's first staged row is never merged at once.
            n = self.rows.get(run_id, hash(run_id) % max(1, self.every - 1)) + 1
            if n >= self.every:
                n = 0
                due.append(run_id)
            self.rows[run_id] = n
        return sorted(due)


STAGED_RUNS = StagedRuns()
