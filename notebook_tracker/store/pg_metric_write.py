"""Writing metric points on PostgreSQL in one statement, one round trip, through psycopg2.

Through SQLAlchemy a group of points cost five round trips (BEGIN, the run check, the chunk
insert, the latest_metrics upsert, COMMIT) and SQLAlchemy's work on each: a server worker spent
about 0.95 ms of CPU on a 100-metric request, PostgreSQL 1.3 ms. Here the whole write is one
statement sent in autocommit, so PostgreSQL commits it as it ends: the run check is a CTE read
once, and the chunk insert and the upsert each write only when every run of the group is
active. A chunk count short of the chunks sent means a run is missing or deleted: nothing was
written, and the caller's slow path says which (as SqliteMetricWriter's fast path does).

Compaction (merging a run's staged rows, a key's small chunks) is due once in many writes and
runs after the write's commit, in a transaction of its own: the points are durable before it,
so a merge that fails is logged and left to the next one, never the request's error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from notebook_tracker import env
from notebook_tracker.store import db_errors, pg_upserts
from notebook_tracker.store.metric_chunks import latest_columns, pack_rows
from notebook_tracker.store.metric_compaction import DueKeys, compact_key
from notebook_tracker.store.metric_staging import STAGED_ARRAYS, STAGED_RUNS, split_rows, unstage
from notebook_tracker.store.sql_metric_write import (
    LATEST_HEAD,
    PG_LATEST_CONFLICT,
    PG_LATEST_TYPES,
    sa_execute,
)

_log = logging.getLogger(__name__)

Row = tuple[str, str, float, int, int]
# (metric_chunks rows in write order, the staged ones among them, the points for
# latest_metrics): a write's parameters
PgPrepared = tuple[list[dict[str, Any]], list[dict[str, Any]], list[Row]]

# Parameters: $1 the runs, then the chunk rows' columns, the number of runs, the latest
# points' columns (only the points not staged: a staged run is counted in latest_pending
# instead). A latest point names its run by its place in $1, not by its id: a request's 100
# copies of a 32-character id were 3.4 KB of the 15 KB statement PostgreSQL reads.
_LATEST_TYPES = ("integer", *PG_LATEST_TYPES[1:])
_LATEST_NAMES = ("run_at", "key", "step", "timestamp", "value", "is_nan")
_RUNS_COUNT = 2 + len(STAGED_ARRAYS)
_PARAMS = _RUNS_COUNT + len(_LATEST_TYPES)


def _arrays(columns: Sequence[str], first: int) -> str:
    return ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(columns, start=first))


# The run check is read once (a CTE named twice is computed once, in the statement's snapshot),
# and each insert writes only if every run was found active. The chunks keep their order
# (chunk_id is a key's write order): a one-time filter, not a join, in front of unnest. Latest
# values come sorted by (run, key), the lock order every writer and settler keeps; the upsert's
# rule (a newer point wins, the row left unsettled) is sql_metric_write's.
_ACTIVE = f'(SELECT "n" FROM "active") = ${_RUNS_COUNT}'
_WRITE = (
    'WITH "active" AS (SELECT count(*) AS "n" FROM "runs" WHERE "run_uuid" = ANY($1::text[]) '
    "AND \"lifecycle_stage\" = 'active'), "
    '"written" AS (INSERT INTO "metric_chunks" ('
    + ", ".join(f'"{name}"' for name, _ in STAGED_ARRAYS)
    + f") SELECT * FROM unnest({_arrays([kind for _, kind in STAGED_ARRAYS], 2)}) "
    f'WHERE {_ACTIVE} RETURNING "run_uuid", "key", "chunk_id"), '
    '"pending" AS (INSERT INTO "latest_pending" ("run_uuid", "since") '
    'SELECT "run_uuid", min("chunk_id") FROM "written" WHERE "key" = \'\' GROUP BY "run_uuid" '
    'ORDER BY "run_uuid" ON CONFLICT ("run_uuid") DO UPDATE SET "since" = '
    'least("latest_pending"."since", excluded."since")), '
    f'"latest" AS ({LATEST_HEAD} SELECT ($1::text[])["run_at"], '
    + ", ".join(f'"{name}"' for name in _LATEST_NAMES[1:])
    + f', false FROM unnest({_arrays(_LATEST_TYPES, _RUNS_COUNT + 1)}) AS "u"('
    + ", ".join(f'"{name}"' for name in _LATEST_NAMES)
    + f") WHERE {_ACTIVE}{PG_LATEST_CONFLICT}) "
    'SELECT count(*) FROM "written"'
)
# A staged run is counted in latest_pending (its points reach latest_metrics by folding,
# latest_folding.py), `since` its first staged row not folded yet; the update is a new row
# version even when `since` stays, which is how a fold knows a write came meanwhile.
# Prepared once per connection, then run by name: PostgreSQL plans the statement once, where
# parsing and planning it each time cost 0.3 of its 0.95 ms (100 metrics, in process). Off
# with the reader's prepared statements (env.postgres_prepare: behind PgBouncer).
_PREPARED = "notebook_tracker.write_points"
_PREPARE = f"PREPARE nt_write_points AS {_WRITE}"
_EXECUTE = "EXECUTE nt_write_points(" + ", ".join(["%s"] * _PARAMS) + ")"
# The same statement with psycopg2's placeholders, each quoted into the text.
_UNPREPARED = re.sub(r"\$(\d+)", lambda m: f"%(p{m.group(1)})s", _WRITE.replace("%", "%%"))


class PgMetricWriter:
    """Metric rows into a PostgreSQL store (psycopg2) in one statement each write."""

    def __init__(self, engine: Engine, due: DueKeys) -> None:
        self.engine = engine
        self.due = due

    def write(self, rows: Sequence[Row], stage: bool = False) -> bool:
        """Write `rows`; False (and nothing written) if one of their runs is not active. With
        `stage`, a run's points of many keys go in one staged row (metric_staging.py)."""
        prepared = self.prepare(rows, stage)
        if not self.write_prepared(prepared):
            return False
        self.compact(prepared)
        return True

    def prepare(self, rows: Sequence[Row], stage: bool = False) -> PgPrepared:
        """`rows` as the statement's rows; raises the store's error for a step or timestamp
        beyond 64 bits (which PostgreSQL's bigint would refuse as well)."""
        try:
            staged, _, direct = split_rows(rows) if stage else ([], [], list(rows))
            chunks = pack_rows(direct) if direct else []
        except OverflowError as error:
            raise (db_errors.for_exception(None, error, self.engine.url) or error) from None
        # A request is one run's points: staged, or chunks. Merged writes keep requests' order.
        # Staged points reach latest_metrics by folding (latest_folding.py): only the
        # others are upserted with the write.
        return staged + chunks, staged, direct

    @staticmethod
    def merge(first: PgPrepared, second: PgPrepared) -> PgPrepared:
        """Both in one write: a key in both keeps the later point of the two, as two writes
        one after the other would."""
        return first[0] + second[0], first[1] + second[1], first[2] + second[2]

    def write_prepared(self, prepared: PgPrepared) -> bool:
        """One statement, committed; False: a run is missing or deleted, nothing written. The
        merges it makes due are `compact`'s, once the caller has answered."""
        written, _, rows = prepared
        if not written:
            return True
        runs = sorted({row["run_uuid"] for row in written})
        latest = latest_columns(rows, sort=True)
        place = {run: n for n, run in enumerate(runs, start=1)}
        latest[0] = [place[run] for run in latest[0]]
        params: list[Any] = [pg_upserts.array_literal("text", runs)]
        params.extend(_chunk_arrays(written))
        params.append(len(runs))
        params.extend(
            pg_upserts.array_literal(kind, column)
            for kind, column in zip(_LATEST_TYPES, latest, strict=True)
        )
        return self._execute(params) == len(written)

    def compact(self, prepared: PgPrepared) -> None:
        """Count a written `prepared`'s staged rows and chunks, and merge what is due, in a
        transaction of its own: a failure is logged and left to a later merge."""
        written, staged, _ = prepared
        chunk_keys = [(c["run_uuid"], c["key"]) for c in written if c.get("staged_keys") is None]
        self._compact([s["run_uuid"] for s in staged], chunk_keys)

    def _execute(self, params: list[Any]) -> int:
        import psycopg2

        try:  # a new connection's failure is the driver's own error: the pool does not wrap it
            pooled = self.engine.raw_connection()  # the pool's idle ping (pg_reads) applies
        except psycopg2.Error as error:
            raise db_errors.for_driver_error(error, psycopg2.Error, self.engine.url) from None
        raw: Any = pooled.driver_connection
        try:
            raw.autocommit = True  # this statement is the transaction: no BEGIN, no COMMIT
            with raw.cursor() as cursor:
                if not env.postgres_prepare():
                    cursor.execute(_UNPREPARED, {f"p{n}": v for n, v in enumerate(params, 1)})
                else:
                    if not pooled.info.get(_PREPARED):  # emptied with a lost connection
                        cursor.execute(_PREPARE)
                        pooled.info[_PREPARED] = True
                    cursor.execute(_EXECUTE, params)
                count: int = cursor.fetchone()[0]
            raw.autocommit = False  # the pool's other users run transactions
        except BaseException as error:
            if raw.closed:
                pooled.invalidate()
            elif raw.autocommit:
                raw.autocommit = False
            if isinstance(error, psycopg2.Error):
                raise db_errors.for_driver_error(error, psycopg2.Error, self.engine.url) from None
            raise
        finally:
            pooled.close()  # back to the pool (a no-op after invalidate)
        return count

    def _compact(self, staged_runs: list[str], keys: list[tuple[str, str]]) -> None:
        runs_due = STAGED_RUNS.due(staged_runs) if staged_runs else []
        keys_due = self.due.due(keys) if keys else []
        if not runs_due and not keys_due:
            return
        try:
            with self.engine.begin() as conn:
                execute = sa_execute(conn)
                # Run by run in id order: a merge upserts latest values, and every writer and
                # fold takes latest_metrics rows in (run, key) order.
                for run_id in sorted(set(runs_due) | {run for run, _ in keys_due}):
                    due = {key for run, key in keys_due if run == run_id}
                    if run_id in runs_due:
                        unstaged = unstage(execute, "postgresql", run_id)
                        due.update(key for _, key in self.due.due([(run_id, k) for k in unstaged]))
                    for key in sorted(due):
                        compact_key(execute, "postgresql", run_id, key)
        except Exception as error:  # the points are committed; the next merge comes later
            _log.warning("could not merge metric chunks (left for a later write): %s", error)


def _chunk_arrays(rows: list[dict[str, Any]]) -> list[Any]:
    """The chunk rows' columns as the statement's arrays: numbers and keys as one literal each,
    bytes and the staged columns (which may be NULL) as lists, which psycopg2 adapts."""
    arrays: list[Any] = []
    for name, kind in STAGED_ARRAYS:
        values = [row.get(name) for row in rows]
        plain = kind == "bytea" or name == "staged_keys"
        arrays.append(values if plain else pg_upserts.array_literal(kind, values))
    return arrays
