"""Keeping a metric history in few chunks however it was written.

Every write adds one chunk row per (run, key): a synchronous loop (one point per commit) or a
loop that flushes often leaves thousands of tiny chunks, and reading them back costs a row
each. Compaction merges contiguous chunks of one (run, key) into one, which takes the place
(chunk_id) of the first: the concatenation in chunk_id order, which reads stably sort by
(step, timestamp), is the same sequence of points before and after, so a history reads back
identical, duplicates and NaN/inf included.

Two plans:
- tail (while writing): when the last FANOUT or more chunks are all smaller than a tier bound
  (16, 256, 4096 points), merge them; repeated, this works like a counter in base FANOUT: a
  point written alone is rewritten about four times on average (at most six), and 100,000
  points written one per commit leave 64 chunks;
- full (on a read that found many chunks): merge every run of small chunks up to FULL_MAX.

Both run inside the caller's write transaction. SQLite serializes writers (BEGIN IMMEDIATE); on
PostgreSQL a transaction-level advisory lock per (run, key) serializes compactors, and chunks
are deleted by id, never by range, so a chunk a concurrent writer commits meanwhile is never
touched. A reader's single SELECT sees either the chunks before or the merged one after.

A run's staged rows (metric_staging.py: many keys' points in one row) are merged into per-key
chunks before any of its keys is compacted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from notebook_tracker.store.metric_staging import delete_chunks, unstage

FANOUT = 16
# Chunks at or above the top tier bound are never merged again while writing.
TIER_BOUNDS = (16, 256, 4096)
# Writes of a (run, key) in this process between two tail checks.
CHECK_EVERY = 64
_MAX_TRACKED_KEYS = 10_000
# A read that finds more chunks than this merges them (full plan).
READ_COMPACT_CHUNKS = 256
FULL_SMALL = 4096
FULL_MAX = 262_144

# (sql with :name parameters, parameters or a list of them) -> rows (fetchall) or None
Execute = Callable[[str, Any], Any]

_COUNTS = (
    'SELECT "chunk_id", "count" FROM "metric_chunks" WHERE "run_uuid" = :run_id AND "key" = :key '
    'ORDER BY "chunk_id"'
)
_BLOBS = (
    'SELECT "chunk_id", "min_step", "max_step", "steps", "timestamps", "values" '
    'FROM "metric_chunks" WHERE "run_uuid" = :run_id AND "key" = :key '
    'AND "chunk_id" BETWEEN :lo AND :hi ORDER BY "chunk_id"'
)
_INSERT = (
    'INSERT INTO "metric_chunks" ("chunk_id", "run_uuid", "key", "count", "min_step", '
    '"max_step", "steps", "timestamps", "values") VALUES (:chunk_id, :run_id, :key, :count, '
    ":min_step, :max_step, :steps, :timestamps, :values)"
)
_PG_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"


def tail_size(counts: Sequence[int]) -> int:
    """How many trailing chunks (of these point counts, in chunk order) to merge; 0: none."""
    for bound in TIER_BOUNDS:
        n = 0
        for count in reversed(counts):
            if count >= bound:
                break
            n += 1
        if n >= FANOUT:
            return n
    return 0


def full_groups(counts: Sequence[int]) -> list[tuple[int, int]]:
    """[start, end) index ranges of contiguous small chunks to merge, each up to FULL_MAX points."""
    groups: list[tuple[int, int]] = []
    start, total = 0, 0
    for i, count in enumerate([*counts, FULL_MAX]):
        if count >= FULL_SMALL or total + count > FULL_MAX:
            if i - start >= 2:
                groups.append((start, i))
            start, total = (i + 1, 0) if count >= FULL_SMALL else (i, count)
        else:
            total += count
    return groups


def compact_key(execute: Execute, dialect: str, run_id: str, key: str, full: bool = False) -> int:
    """Merge small chunks of (run_id, key) in the caller's write transaction; chunks removed."""
    # A merge moves points across whatever lies between its chunks: no staged row may.
    unstage(execute, dialect, run_id)
    if dialect == "postgresql":
        execute(_PG_LOCK, {"name": f"notebook-tracker metric {run_id} {key}"})
    found = execute(_COUNTS, {"run_id": run_id, "key": key})
    ids = [row[0] for row in found]
    counts = [row[1] for row in found]
    removed = 0
    if full:
        for start, end in reversed(full_groups(counts)):
            _merge(execute, dialect, run_id, key, ids[start:end])
            removed += end - start - 1
        return removed
    while (n := tail_size(counts)) > 0:
        merged = _merge(execute, dialect, run_id, key, ids[-n:])
        ids[-n:] = [ids[-n]]
        counts[-n:] = [merged]
        removed += n - 1
    return removed


def _merge(execute: Execute, dialect: str, run_id: str, key: str, ids: list[int]) -> int:
    """Replace chunks `ids` (contiguous for this key) by one at ids[0]; its point count."""
    wanted = set(ids)
    rows = [
        row
        for row in execute(_BLOBS, {"run_id": run_id, "key": key, "lo": ids[0], "hi": ids[-1]})
        if row[0] in wanted
    ]
    if not rows:
        return 0
    steps = b"".join(bytes(r[3]) for r in rows)
    delete_chunks(execute, dialect, [r[0] for r in rows])
    count = len(steps) // 8
    execute(
        _INSERT,
        {
            "chunk_id": ids[0],
            "run_id": run_id,
            "key": key,
            "count": count,
            "min_step": min(r[1] for r in rows),
            "max_step": max(r[2] for r in rows),
            "steps": steps,
            "timestamps": b"".join(bytes(r[4]) for r in rows),
            "values": b"".join(bytes(r[5]) for r in rows),
        },
    )
    return count


class DueKeys:
    """Counts this process's chunk writes per (run, key): which keys are due a tail check."""

    def __init__(self) -> None:
        self.writes: dict[tuple[str, str], int] = {}

    def adopt(self, other: DueKeys) -> None:
        """Take over `other`'s counts (another writer of this process is handing its keys to
        this one), so a key's next tail check comes when it would have come, not CHECK_EVERY
        writes later; `other` is left empty."""
        writes = self.writes
        for key, n in other.writes.items():
            writes[key] = min(writes.get(key, 0) + n, CHECK_EVERY - 1)
        other.writes.clear()

    def due(self, keys: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """Count one write of each key; the keys due now, sorted (a fixed lock order)."""
        writes = self.writes
        if len(keys) == 1:  # a synchronous point
            n = writes.get(keys[0], 0) + 1
            writes[keys[0]] = 0 if n >= CHECK_EVERY else n
            return list(keys) if n >= CHECK_EVERY else []
        if len(writes) > _MAX_TRACKED_KEYS:  # a server sees many runs: forget, recount
            writes.clear()
        due = []
        for key in keys:
            n = writes.get(key, 0) + 1
            if n >= CHECK_EVERY:
                n = 0
                due.append(key)
            writes[key] = n
        return sorted(due)
