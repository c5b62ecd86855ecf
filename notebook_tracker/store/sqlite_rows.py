"""The rows of a run, its tags, params and metric points, written with fixed SQL through the
stdlib `sqlite3` module: `sqlite_first_write.py`'s fast path and the SQLAlchemy store's
`SqliteMetricWriter` share these statements. Column names follow `schema.py` (a test fails if
they drift); the statements use SQLite's dialect only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from notebook_tracker import env
from notebook_tracker.entities import Experiment, LifecycleStage
from notebook_tracker.store import sqlite_busy
from notebook_tracker.store.metric_compaction import DueKeys, Execute, compact_key

MAX_KEYS = 500  # keys per IN (...) list: far below SQLite's variable limit

RUN_COLUMNS = (
    "run_uuid",
    "name",
    "experiment_id",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "deleted_time",
    "lifecycle_stage",
    "artifact_uri",
    "parent_run_id",
    "owner_host",
    "owner_pid",
    "owner_started",
    "heartbeat_time",
)
EXPERIMENT_COLUMNS = (
    "experiment_id",
    "name",
    "artifact_location",
    "lifecycle_stage",
    "creation_time",
    "last_update_time",
)
TAG_COLUMNS = ("run_uuid", "key", "value")
PARAM_COLUMNS = ("run_uuid", "key", "value")
CHUNK_COLUMNS = (
    "run_uuid",
    "key",
    "count",
    "min_step",
    "max_step",
    "steps",
    "timestamps",
    "values",
)
LATEST_COLUMNS = ("run_uuid", "key", "step", "timestamp", "value", "is_nan")


def _insert(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({", ".join(f":{c}" for c in columns)})'


INSERT_RUN = _insert("runs", RUN_COLUMNS)
INSERT_TAG = _insert("tags", TAG_COLUMNS)
INSERT_PARAM = _insert("params", PARAM_COLUMNS)
# A tag that exists is updated in place: only its row changes (one page in the commit, the
# table being stored in (run_uuid, key) order since migration 0009, where a delete and an
# insert touched every b-tree of the table and its indexes; each page written costs the
# commit's fdatasync about 10-15 us). The same value writes nothing.
UPSERT_TAG = (
    INSERT_TAG + ' ON CONFLICT ("run_uuid", "key") DO UPDATE SET "value" = excluded."value" '
    'WHERE "tags"."value" IS NOT excluded."value"'
)
_INSERT_CHUNK = _insert("metric_chunks", CHUNK_COLUMNS)
INSERT_CHUNK = _INSERT_CHUNK  # for a writer that checked its runs itself
# The run-state check folded into the insert: a row count short of the chunks means a run is
# missing or deleted (the SQLAlchemy store's SqliteMetricWriter uses these two as well).
INSERT_CHUNK_IF_ACTIVE = (
    _INSERT_CHUNK.replace(" VALUES (", " SELECT ", 1)[:-1]
    + ' WHERE EXISTS (SELECT 1 FROM "runs" WHERE "run_uuid" = :run_uuid AND '
    "\"lifecycle_stage\" = 'active')"
)
# A row is written unsettled (settled = 0: out of the (key, value) index, migration 0010); an
# update leaves the flag alone, so that updating an unsettled row's value moves no index entry.
_LATEST_NAMES = ", ".join(f'"{c}"' for c in LATEST_COLUMNS)
_LATEST_VALUES = ", ".join(f":{c}" for c in LATEST_COLUMNS)
UPSERT_LATEST = (
    f'INSERT INTO "latest_metrics" ({_LATEST_NAMES}, "settled") VALUES ({_LATEST_VALUES}, 0)'
    ' ON CONFLICT ("run_uuid", "key") DO UPDATE SET '
    '"step" = excluded."step", "timestamp" = excluded."timestamp", "value" = excluded."value", '
    '"is_nan" = excluded."is_nan" WHERE excluded."step" > "latest_metrics"."step" OR '
    '(excluded."step" = "latest_metrics"."step" AND '
    'excluded."timestamp" >= "latest_metrics"."timestamp")'
)


# A WAL that a long read kept from being reset (a 1M-run packing pass beside one: 2.6 GB) is
# cut back to this once it is reset; SQLite otherwise keeps the file at its largest for good.
# Far above the ~4 MB a WAL reaches between automatic checkpoints, so commits still overwrite
# it in place (an fdatasync that does not grow the file is about a third of one that does).
WAL_SIZE_LIMIT = 64 * 1024 * 1024


def connect(database: str) -> sqlite3.Connection:
    """A connection set up as the SQLAlchemy store's engine sets up each of its own."""
    conn = sqlite3.connect(database, timeout=30, check_same_thread=False, isolation_level=None)
    try:
        sqlite_busy.retrying(lambda: conn.execute("PRAGMA journal_mode=WAL"))
        conn.execute(f"PRAGMA synchronous={env.sqlite_synchronous()}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    except BaseException:
        conn.close()
        raise
    return conn


def key_values(run_id: str, items: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"run_uuid": run_id, "key": k, "value": v} for k, v in items]


def experiment_by_name(conn: sqlite3.Connection, name: str) -> Experiment | None:
    """The experiment named `name` with its tags, as `SqlStore.get_experiment_by_name` reads it."""
    names = ", ".join(f'"{c}"' for c in EXPERIMENT_COLUMNS)
    row = conn.execute(f'SELECT {names} FROM "experiments" WHERE "name" = ?', (name,)).fetchone()
    if row is None:
        return None
    exp_id, exp_name, location, stage, created, updated = row
    tags = conn.execute(
        'SELECT "key", "value" FROM "experiment_tags" WHERE "experiment_id" = ?', (exp_id,)
    ).fetchall()
    return Experiment(str(exp_id), exp_name, location, stage, dict(tags), created, updated)


def run_is_active(conn: sqlite3.Connection, run_id: str) -> bool:
    row = conn.execute(
        'SELECT "lifecycle_stage" FROM "runs" WHERE "run_uuid" = ?', (run_id,)
    ).fetchone()
    return row is not None and row[0] == LifecycleStage.ACTIVE


# A batch's runs leave the (key, value) index before their values change (migration 0010):
# each row moves out of it once, not once a batch. A run's end settles its rows again.
UNSETTLE_RUN = 'UPDATE "latest_metrics" SET "settled" = 0 WHERE "run_uuid" = ? AND "settled" = 1'
SETTLE_RUN = 'UPDATE "latest_metrics" SET "settled" = 1 WHERE "run_uuid" = ? AND "settled" = 0'


def unsettle(conn: sqlite3.Connection, run_ids: Iterable[str]) -> None:
    """Take the runs' latest metrics out of the (key, value) index (see UNSETTLE_RUN)."""
    conn.executemany(UNSETTLE_RUN, [(run_id,) for run_id in run_ids])


def insert_points(
    conn: sqlite3.Connection,
    chunks: list[dict[str, Any]],
    latest: list[dict[str, Any]],
    due: DueKeys | None = None,
) -> bool:
    """False when a run of the points is missing or deleted (the caller rolls back). With
    `due`, the keys it counts due a tail check are compacted in the same transaction, as the
    full store's writers do (metric_compaction.py): a synchronous loop stays a few chunks."""
    if conn.executemany(INSERT_CHUNK_IF_ACTIVE, chunks).rowcount != len(chunks):
        return False
    if len(latest) > 1:
        unsettle(conn, {point["run_uuid"] for point in latest})
    conn.executemany(UPSERT_LATEST, latest)
    if due is not None:
        for run_id, key in due.due([(c["run_uuid"], c["key"]) for c in chunks]):
            compact_key(execute_on(conn), "sqlite", run_id, key)
    return True


def execute_on(conn: sqlite3.Connection) -> Execute:
    """The compaction's `execute` on a sqlite3 connection: a list of parameter sets runs as
    executemany, anything else as one statement whose rows are returned."""

    def execute(sql: str, params: Any) -> list[Any]:
        if isinstance(params, list):
            conn.executemany(sql, params)
            return []
        return conn.execute(sql, params).fetchall()

    return execute


def insert_params(conn: sqlite3.Connection, run_id: str, wanted: dict[str, str]) -> bool:
    """False when a param would change value: params are immutable, the full store says so."""
    keys = list(wanted)
    existing = dict(
        conn.execute(
            f'SELECT "key", "value" FROM "params" WHERE "run_uuid" = ? AND "key" IN '
            f"({', '.join('?' * len(keys))})",
            (run_id, *keys),
        ).fetchall()
    )
    if any(existing[k] != v for k, v in wanted.items() if k in existing):
        return False
    conn.executemany(
        INSERT_PARAM,
        [
            {"run_uuid": run_id, "key": k, "value": v}
            for k, v in wanted.items()
            if k not in existing
        ],
    )
    return True


def upsert_tags(conn: sqlite3.Connection, run_id: str, latest: dict[str, str]) -> None:
    conn.executemany(UPSERT_TAG, key_values(run_id, latest.items()))
    if "mlflow.runName" in latest:
        conn.execute(
            'UPDATE "runs" SET "name" = ? WHERE "run_uuid" = ?', (latest["mlflow.runName"], run_id)
        )
