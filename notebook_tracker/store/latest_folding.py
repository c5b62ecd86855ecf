"""PostgreSQL: latest values folded from staged rows into latest_metrics, when they are read.

A server's write of many keys stages the points as one row (metric_staging.py) and, instead of
upserting one latest_metrics row a key (a row lock, a new row version and two WAL records
each: half of PostgreSQL's CPU under MLflow's JSON log-batch), counts the run in
`latest_pending` (pg_metric_write.py; `since`: the first chunk to fold). The staged points
reach latest_metrics:
- before anything reads latest values: a run read finds its count in the run row's own query
  (`fold_now`), a search, a DataFrame or the sidebar's rows ask `latest_pending` first
  (`fold_pending`, one small query when nothing is counted). The counted runs' chunks from
  `since` on are read (staged rows and the points written alone between them, in write order)
  and the last point of each key upserted, every run's in one statement;
- when a run's staged rows are merged (`unstage`, through `upsert_latest` and `advance`):
  every STAGE_ROWS writes of a run, in the merge's transaction, which moves `since` past it;
- before a run's end settles its rows (`fold_runs`).

Folding is idempotent: the upsert keeps the later point by (step, timestamp), so a point folded
twice (by a reader and a merge) changes nothing the second time. Folds run one at a time. A
count is cleared, or its `since` moved, only if its row version (xmin) is the one the fold or
merge read: every write makes a new one, so a write that lands meanwhile keeps its count for
the next fold. Neither waits for a count a write holds (SKIP LOCKED), and rows are upserted in
the writers' order, (run, key), so a fold cannot deadlock with a writer.

A point written alone (fewer than STAGE_MIN_KEYS keys) is upserted as it is written, and read
again by the fold when it came after a staged row: a tie (same step and timestamp) then goes
to whichever was written last, as it did when every point was upserted at write time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

from notebook_tracker.store.metric_staging import decode_points
from notebook_tracker.store.pg_upserts import array_literal
from notebook_tracker.store.sql_metric_write import LATEST_HEAD, PG_LATEST_CONFLICT, sa_execute

_log = logging.getLogger(__name__)

# (sql with :name parameters, parameters) -> rows (fetchall) or []
Execute = Callable[[str, Any], Any]

# A count's version is its row version (xmin): every write makes a new one, and no two
# transactions share one, so a count seen once is never mistaken for a later one.
_PENDING = (
    'SELECT "run_uuid", "since", CAST(xmin AS text) FROM "latest_pending" ORDER BY "run_uuid"'
)
_PENDING_OF = (
    'SELECT "run_uuid", "since", CAST(xmin AS text) FROM "latest_pending" '
    'WHERE "run_uuid" = ANY(CAST(:ids AS text[])) ORDER BY "run_uuid"'
)
_ONE_FOLD = "SELECT pg_advisory_xact_lock(hashtextextended('notebook-tracker latest fold', 0))"
# Each run's chunks from its first unfolded staged row on, in write order: the staged rows and
# the points written alone between them, so that a tie (same step and timestamp) goes to the
# point written last, as upserting at write time would leave it.
_SINCE = (
    'SELECT p."run_uuid", c."key", c."steps", c."timestamps", c."values", c."staged_keys", '
    'c."key_index" FROM unnest(CAST(:runs AS text[]), CAST(:since AS bigint[])) AS '
    'p("run_uuid", "since") CROSS JOIN LATERAL (SELECT "chunk_id", "key", "steps", '
    '"timestamps", "values", "staged_keys", "key_index" FROM "metric_chunks" AS m WHERE '
    'm."run_uuid" = p."run_uuid" AND m."chunk_id" >= p."since") AS c '
    'ORDER BY p."run_uuid", c."chunk_id"'
)
# Counts unchanged since they were read, skipping any a write holds: that write keeps it.
_CLEAR = (
    'DELETE FROM "latest_pending" AS d USING (SELECT l."run_uuid" FROM "latest_pending" AS l '
    'JOIN unnest(CAST(:runs AS text[]), CAST(:versions AS text[])) AS s("run_uuid", "version") '
    'ON l."run_uuid" = s."run_uuid" AND l.xmin = CAST(s."version" AS xid) '
    'ORDER BY l."run_uuid" FOR UPDATE OF l SKIP LOCKED) AS k WHERE d."run_uuid" = k."run_uuid"'
)
# A merge of a run's staged rows upserted their latest values: the fold starts after them,
# unless a write counted the run since the merge read its count (or holds it now).
_ADVANCE = (
    'UPDATE "latest_pending" AS d SET "since" = greatest(d."since", :next) FROM (SELECT '
    'l."run_uuid" FROM "latest_pending" AS l WHERE l."run_uuid" = :run AND '
    'l.xmin = CAST(:version AS xid) FOR UPDATE SKIP LOCKED) AS k WHERE d."run_uuid" = k."run_uuid"'
)
# The writers' upsert (sql_metric_write): a newer point wins, the row left unsettled.
_UPSERT = (
    f"{LATEST_HEAD} SELECT *, false FROM unnest(CAST(:run AS text[]), CAST(:key AS text[]), "
    "CAST(:step AS bigint[]), CAST(:ts AS bigint[]), CAST(:value AS float8[]), "
    f"CAST(:nan AS boolean[])){PG_LATEST_CONFLICT}"
)

_UPSERT_NAMES = ("run", "key", "step", "ts", "value", "nan")
_UPSERT_TYPES = ("text", "text", "bigint", "bigint", "float8", "boolean")


def upsert_latest(execute: Execute, run_id: str, keys: Sequence[str], columns: Any) -> None:
    """Upsert the last point of each key of `run_id`: `columns` are numpy arrays (key number,
    step, timestamp, value) of points in write order, a key's number its place in `keys`."""
    _upsert(execute, latest_of(run_id, keys, columns))


def latest_of(run_id: str, keys: Sequence[str], columns: Any) -> list[tuple[Any, ...]]:
    """`upsert_latest`'s rows (run, key, step, timestamp, value, is_nan), sorted by key."""
    import numpy as np

    numbers, steps, timestamps, values = columns
    if not len(numbers):
        return []
    # Sorted by key, then step, then timestamp, then write order: each key's last is its latest
    # (a later write winning a tie, as upserting the points one by one would leave).
    order = np.lexsort((np.arange(len(numbers)), timestamps, steps, numbers))
    ordered = numbers[order]
    last = order[np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True))]
    named = sorted(zip((keys[n] for n in numbers[last].tolist()), last.tolist(), strict=True))
    picked = [at for _, at in named]
    found = values[picked].tolist()
    return [
        (run_id, key, step, stamp, 0.0 if v != v else v, v != v)  # v != v: NaN only
        for (key, _), step, stamp, v in zip(
            named, steps[picked].tolist(), timestamps[picked].tolist(), found, strict=True
        )
    ]


def _upsert(execute: Execute, rows: list[tuple[Any, ...]]) -> None:
    """One statement for `rows` (in (run, key) order, the order writers lock them in), each
    column one array literal (pg_upserts): the driver quoting 600 values cost more."""
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    execute(
        _UPSERT,
        {
            name: array_literal(kind, list(column))
            for name, kind, column in zip(_UPSERT_NAMES, _UPSERT_TYPES, columns, strict=True)
        },
    )


def fold_in(execute: Execute, run_ids: Sequence[str] | None = None) -> int:
    """Fold the counted runs among `run_ids` (None: all) into latest_metrics, in the caller's
    write transaction; the number of runs folded."""
    # One fold at a time: readers arriving together wait for the first, then find its runs
    # cleared, instead of each reading and upserting the same points.
    execute(_ONE_FOLD, {})
    pending = (
        execute(_PENDING, {}) if run_ids is None else execute(_PENDING_OF, {"ids": list(run_ids)})
    )
    if not pending:
        return 0
    runs = [row[0] for row in pending]
    rows = execute(_SINCE, {"runs": runs, "since": [row[1] for row in pending]})
    by_run: dict[str, list[Any]] = {}
    for row in rows:
        by_run.setdefault(row[0], []).append(row)
    latest: list[tuple[Any, ...]] = []
    for run_id, chunks in by_run.items():  # in run order (_SINCE's)
        ids, _, numbers, points = decode_points(chunks, every_key=True)
        latest.extend(latest_of(run_id, list(ids), (numbers, *points)))
    _upsert(execute, latest)  # every run's in one statement
    execute(_CLEAR, {"runs": runs, "versions": [row[2] for row in pending]})
    return len(runs)


def count_of(execute: Execute, run_id: str) -> tuple[str, int] | None:
    """`run_id`'s count as (version, since), read by a merge before it reads the staged rows."""
    found = execute(_PENDING_OF, {"ids": [run_id]})
    return (found[0][2], found[0][1]) if found else None


def advance(execute: Execute, run_id: str, seen: tuple[str, int] | None, last: int) -> None:
    """After a merge upserted the latest values of `run_id`'s chunks up to `last` (the merged
    chunks it wrote included): a later fold starts after them, if the run's count is still the
    one the merge saw (`count_of`). A write that counted the run meanwhile may have staged a
    row the merge did not see, with a lower id: the fold then starts where it did."""
    if seen is not None and seen[1] <= last:
        execute(_ADVANCE, {"run": run_id, "version": seen[0], "next": last + 1})


def fold_runs(conn: Connection, run_ids: Sequence[str] | None = None) -> None:
    """`fold_in` in a SQLAlchemy connection's write transaction (a run's end folds before it
    settles); nothing on SQLite, whose writers upsert every latest value as they write."""
    if conn.dialect.name == "postgresql":
        fold_in(sa_execute(conn), run_ids)


def fold_pending(reader: Connection, writer: Engine) -> None:
    """Before a read of latest values on `reader` (a search, a DataFrame, the sidebar's rows):
    fold every counted run. Asks on `reader` first, so a read with nothing to fold costs one
    small query."""
    if writer.dialect.name == "postgresql" and sa_execute(reader)(_PENDING + " LIMIT 1", {}):
        fold_now(writer)


def fold_now(writer: Engine, run_ids: Sequence[str] | None = None) -> None:
    """Fold the counted runs among `run_ids` (None: all) in a write transaction of its own. A
    fold that fails is logged: the read then shows the values folded so far, and the next read
    folds again."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with writer.begin() as conn:
            fold_in(sa_execute(conn), run_ids)
    except SQLAlchemyError as error:
        _log.warning("could not fold the latest metric values before a read: %s", error)
