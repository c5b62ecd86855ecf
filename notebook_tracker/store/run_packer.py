"""The packer: (re)builds `runs.packed_values` (packed_values.py) off the request path, in
bounded batches, for runs never packed (NULL) and, on PostgreSQL, runs listed stale.

A big read that meets such runs reads them the normalized way and starts a background pass
(as reads start the liveness reaper); it never waits for it. Correctness against writers is
the triggers' (migration 0008): on SQLite a batch reads and writes in one write transaction;
on PostgreSQL a batch locks its runs FOR UPDATE SKIP LOCKED before reading their values, so a
writer's trigger (FOR KEY SHARE on the run) either waits for the batch and then lists the run
stale, or holds the run and the batch skips it. There, a run with unsettled latest metrics (being
logged to) is not packed: their new values fire no trigger (migration 0012). One packer per
database at a time (an advisory lock): two could otherwise commit in the opposite order of their
reads.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text

from notebook_tracker.store.background_pass import BackgroundPass
from notebook_tracker.store.metric_settling import settle_idle_runs
from notebook_tracker.store.packed_values import pack_run_values
from notebook_tracker.store.sqlite_files import database_file

# Runs per transaction. SQLite's one write lock is held for a batch, and a writer waits that
# long: 75-175 ms for 500 runs on the loaded machine (load 9), 255-900 ms for 1,000.
PACK_BATCH = 500
_PG_BATCH = 1_000
# Between batches on SQLite, as long as the busy handler's longest wait, so that writers
# queued behind a batch get in before the next one (sql_liveness.py does the same).
_SQLITE_PAUSE_S = 0.1
_PG_PAUSE_S = 0.01
_PG_LOCK_KEY = 74202
# A pass packs all it can, so a new one is only for runs written since: reads of a store that
# is written all the time (a sidebar polling beside a sweep) start one at most this often.
PACK_INTERVAL_S = 2.0


class _ById:
    """A statement over a list of run ids `:ids`: expanded into IN (...) on SQLite, one array
    on PostgreSQL (1,000 bound values cost PostgreSQL more to plan than to run)."""

    def __init__(self, sql: str) -> None:
        self.sqlite = text(sql.format(ids=":ids")).bindparams(bindparam("ids", expanding=True))
        self.postgres = text(sql.replace("IN {ids}", "= ANY(CAST(:ids AS text[]))"))

    def on(self, conn: Connection) -> Any:
        return self.postgres if conn.dialect.name == "postgresql" else self.sqlite


_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:k)")
_LOCK_PACKING = text("SELECT pg_advisory_xact_lock(:k) IS NULL")
_UNPACKED = text("SELECT run_uuid FROM runs WHERE packed_values IS NULL ORDER BY run_uuid LIMIT :n")
# PostgreSQL packs only runs whose latest metrics are all settled (migration 0012): a new value
# of an unsettled row marks nothing stale. Nor runs with staged points not folded yet
# (latest_folding.py): their values are not in latest_metrics. Runs being logged to are left
# for after their settling, and passed over here so that they never hold the batch's place.
_UNSETTLED = (
    "(EXISTS (SELECT 1 FROM latest_metrics AS m WHERE m.run_uuid = {run} AND NOT m.settled) "
    "OR EXISTS (SELECT 1 FROM latest_pending AS p WHERE p.run_uuid = {run}))"
)
_PG_UNPACKED = text(
    "SELECT r.run_uuid FROM runs AS r WHERE r.packed_values IS NULL AND NOT "
    + _UNSETTLED.format(run="r.run_uuid")
    + " ORDER BY r.run_uuid LIMIT :n"
)
_STALE = text("SELECT id, run_uuid FROM stale_run_values ORDER BY id LIMIT :n")
_PG_STALE = text(
    "SELECT s.id, s.run_uuid FROM stale_run_values AS s WHERE NOT "
    + _UNSETTLED.format(run="s.run_uuid")
    + " ORDER BY s.id LIMIT :n"
)
# Read after the batch holds its runs: a writer that unsettles a row of one from now on waits
# for the batch in its trigger, then lists the run stale; one that did before is seen here.
_PG_STILL_UNSETTLED = text(
    "SELECT DISTINCT run_uuid FROM latest_metrics "
    "WHERE run_uuid = ANY(CAST(:ids AS text[])) AND NOT settled "
    "UNION SELECT run_uuid FROM latest_pending WHERE run_uuid = ANY(CAST(:ids AS text[]))"
)
_EXISTING = _ById("SELECT run_uuid FROM runs WHERE run_uuid IN {ids}")
_LOCK = _ById(
    "SELECT run_uuid FROM runs WHERE run_uuid IN {ids} ORDER BY run_uuid FOR UPDATE SKIP LOCKED"
)
_PARAMS = _ById('SELECT run_uuid, "key", "value" FROM params WHERE run_uuid IN {ids}')
_TAGS = _ById('SELECT run_uuid, "key", "value" FROM tags WHERE run_uuid IN {ids}')
_METRICS = _ById(
    'SELECT run_uuid, "key", "value", is_nan FROM latest_metrics WHERE run_uuid IN {ids}'
)
_WRITE = text("UPDATE runs SET packed_values = :packed WHERE run_uuid = :rid")
# One statement for the batch: an executemany is a round trip per run on PostgreSQL.
_PG_WRITE = text(
    "UPDATE runs AS r SET packed_values = u.packed "
    "FROM unnest(CAST(:rids AS text[]), CAST(:texts AS text[])) AS u(rid, packed) "
    "WHERE r.run_uuid = u.rid"
)
_DROP_STALE = text("DELETE FROM stale_run_values WHERE id = ANY(CAST(:ids AS bigint[]))")


def _packed(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """Each run's packed text, from the normalized tables as this connection sees them."""
    found: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
        rid: ({}, {}, {}) for rid in ids
    }
    bound = {"ids": list(ids)}
    for rid, key, value in conn.execute(_PARAMS.on(conn), bound):
        found[rid][0][key] = value
    for rid, key, value, is_nan in conn.execute(_METRICS.on(conn), bound):
        found[rid][1][key] = None if is_nan else value
    for rid, key, value in conn.execute(_TAGS.on(conn), bound):
        found[rid][2][key] = value
    return {rid: pack_run_values(*kinds) for rid, kinds in found.items()}


def pack_batch(engine: Engine, limit: int = PACK_BATCH, wait: bool = False) -> int:
    """Pack up to `limit` unpacked and `limit` stale runs in one transaction; the number of
    runs done (0: nothing left that is not locked by a writer, or, unless `wait`, another
    process is packing)."""
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        stale: list[Any] = []
        if postgres:
            if wait:
                conn.execute(_LOCK_PACKING, {"k": _PG_LOCK_KEY})
            elif not conn.execute(_TRY_LOCK, {"k": _PG_LOCK_KEY}).scalar():
                return 0  # another process is packing this database
            # Metrics must read back as the same doubles whatever the server's default (a
            # server at 0 prints 15 digits: 1.7976931348623157e308 came back as inf).
            conn.execute(text("SET LOCAL extra_float_digits = 3"))
            stale = list(conn.execute(_PG_STALE, {"n": limit}))
        unpacked = _PG_UNPACKED if postgres else _UNPACKED
        wanted = {row[0] for row in conn.execute(unpacked, {"n": limit})}
        wanted.update(row[1] for row in stale)
        if not wanted:
            return 0
        ids = sorted(wanted)
        gone: set[str] = set()
        if postgres:
            gone = wanted - {row[0] for row in conn.execute(_EXISTING.on(conn), {"ids": ids})}
            ids = [row[0] for row in conn.execute(_LOCK.on(conn), {"ids": ids})]
            if ids:
                busy = {row[0] for row in conn.execute(_PG_STILL_UNSETTLED, {"ids": ids})}
                ids = [rid for rid in ids if rid not in busy]
        if ids:
            texts = _packed(conn, ids)
            if postgres:
                conn.execute(_PG_WRITE, {"rids": ids, "texts": [texts[rid] for rid in ids]})
            else:
                conn.execute(_WRITE, [{"packed": texts[rid], "rid": rid} for rid in ids])
        done = set(ids) | gone
        consumed = [row[0] for row in stale if row[1] in done]
        if consumed:
            conn.execute(_DROP_STALE, {"ids": consumed})
        return len(done)


def pack_all(engine: Engine, limit: int | None = None, wait: bool = False) -> int:
    """Batches until every run is packed (or held by a writer); the number of runs done.
    With `wait`, a batch waits for another process's batch rather than stopping."""
    postgres = engine.dialect.name == "postgresql"
    pause = _PG_PAUSE_S if postgres else _SQLITE_PAUSE_S
    if limit is None:
        limit = _PG_BATCH if postgres else PACK_BATCH
    if postgres:  # runs no longer logged to become packable (see _UNSETTLED)
        settle_idle_runs(engine, pause_s=pause)
    total = 0
    while True:
        done = pack_batch(engine, limit, wait)
        if not done:
            return total
        total += done
        time.sleep(pause)


class PackerMixin:
    """`SqlStore`'s background packer, started by big reads that met unpacked runs."""

    writer: Any
    _packer: BackgroundPass

    def maybe_pack(self) -> None:
        """Start a background pass unless one is running or started PACK_INTERVAL_S ago;
        never waits for it."""
        if self.writer.dialect.name == "sqlite" and database_file(self.writer.url) is None:
            return  # a memory database is one per thread: a packer would see another one
        self._packer.start(self._pack_all)

    def wait_for_packer(self, timeout: float | None = None) -> None:
        """Block until a background pass is over (tests, benchmarks)."""
        self._packer.wait(timeout)

    def pack_runs(self) -> int:
        """Pack every run now, in batches (benchmarks, a store just imported), after any
        background pass of this process or batch of another; runs done."""
        self.wait_for_packer()
        return pack_all(self.writer, wait=True)

    def _pack_all(self) -> int:
        return pack_all(self.writer)


__all__ = ["PACK_BATCH", "PACK_INTERVAL_S", "PackerMixin", "pack_all", "pack_batch"]
