"""Migration 0009: on SQLite, params, tags and latest metrics stored in (run_uuid, key) order.

A store from before it upgrades in place with every value, keeps the triggers that mark a run's
packed values stale, drops rows whose run is gone, and goes back (downgrade) to the rowid tables
and covering indexes it had; a synchronous write then commits fewer pages."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from helpers import downgrade_store
from sqlalchemy import create_engine

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.store import forget_stores
from notebook_tracker.store.schema import HEAD_REVISION
from notebook_tracker.store.schema_version import current_revision, upgrade

TABLES = ("params", "tags", "latest_metrics")
COVERING = ("ix_params_run_key_value", "ix_tags_run_key_value", "ix_latest_metrics_run_key_value")
BEFORE = "0008_packed_run_values"
AT = "0009_clustered_key_values"  # this migration's revision


def _downgrade(uri: str, target: str) -> None:
    downgrade_store(create_engine(uri), target)


def _schema(db: Path) -> tuple[dict[str, str], set[str], set[str]]:
    """(table -> its SQL, index names, trigger names) of the three tables."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    tables = {name: " ".join(sql.split()) for kind, name, _, sql in rows if kind == "table"}
    indexes = {
        name for kind, name, table, sql in rows if kind == "index" and table in TABLES and sql
    }  # named ones: a rowid table's primary key index is SQLite's own
    triggers = {name for kind, name, table, _ in rows if kind == "trigger" and table in TABLES}
    return {t: tables[t] for t in TABLES}, indexes, triggers


def _values(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(db) as conn:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in TABLES}


def _seed(client: TrackingClient) -> list[str]:
    exp = client.create_experiment("clustered")
    runs = []
    for i in range(12):
        run_id = client.create_run(exp).info.run_id
        metrics = [Metric("loss", 1 / (i + 1), 1, i), Metric("nan", math.nan, 1, 0)]
        params = [Param("lr", str(i / 10)), Param("long", "x" * 3000)]
        client.store.log_batch(run_id, metrics, params, [RunTag("stage", f"s{i}")])
        runs.append(run_id)
    return runs


def test_a_store_from_before_upgrades_in_place_with_every_value_and_its_triggers(
    tmp_path: Path,
) -> None:
    db = tmp_path / "t.db"
    uri = f"sqlite:///{db}"
    client = TrackingClient(uri)
    runs = _seed(client)
    forget_stores()
    _downgrade(uri, BEFORE)
    before_tables, before_indexes, triggers = _schema(db)
    assert set(COVERING) <= before_indexes
    assert not any(sql.endswith("WITHOUT ROWID") for sql in before_tables.values())
    values = _values(db)
    with sqlite3.connect(db) as conn:  # a row whose run is gone, as a store without FKs left
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("INSERT INTO tags VALUES ('gone', 'k', 'v')")
        conn.execute("UPDATE runs SET packed_values = 'packed' WHERE run_uuid = ?", (runs[0],))

    upgrade(create_engine(uri), AT)

    tables, indexes, triggers_after = _schema(db)
    assert current_revision(create_engine(uri)) == AT
    assert all(sql.endswith(") WITHOUT ROWID") for sql in tables.values())
    assert indexes == before_indexes - set(COVERING)
    assert triggers_after == triggers
    assert _values(db) == values  # the orphaned tag was not copied
    reopened = TrackingClient(uri)
    run = reopened.get_run(runs[3])
    assert run.data.params == {"lr": "0.3", "long": "x" * 3000}
    assert run.data.tags["stage"] == "s3" and run.data.metrics["loss"] == 0.25
    assert math.isnan(run.data.metrics["nan"])
    reopened.set_tag(runs[0], "stage", "again")  # the trigger marks the packed text stale
    with sqlite3.connect(db) as conn:
        packed = conn.execute(
            "SELECT packed_values FROM runs WHERE run_uuid = ?", (runs[0],)
        ).fetchone()
    assert packed == (None,)
    found = reopened.search_runs([run.info.experiment_id], "")
    assert {r.data.tags["stage"] for r in found} == {f"s{i}" for i in range(1, 12)} | {"again"}


def test_a_downgrade_brings_back_the_rowid_tables_and_covering_indexes(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    uri = f"sqlite:///{db}"
    _seed(TrackingClient(uri))
    forget_stores()
    _downgrade(uri, AT)
    values = _values(db)
    _, head_indexes, triggers = _schema(db)

    _downgrade(uri, BEFORE)

    tables, indexes, triggers_after = _schema(db)
    assert not any("WITHOUT ROWID" in sql for sql in tables.values())
    assert indexes == head_indexes | set(COVERING)
    assert triggers_after == triggers
    assert _values(db) == values


def test_a_synchronous_write_commits_fewer_wal_pages(tmp_path: Path) -> None:
    """Pages a param and a tag add to the WAL, at 0009 and at 0008 (rowid tables and covering
    indexes): the commit's fdatasync writes those pages."""
    frames = {}
    for revision in (HEAD_REVISION, BEFORE):
        db = tmp_path / f"{revision}.db"
        uri = f"sqlite:///{db}"
        client = TrackingClient(uri)
        run_id = client.create_run(client.create_experiment("pages")).info.run_id
        client.set_tag(run_id, "warm", "up")
        forget_stores()
        if revision != HEAD_REVISION:
            _downgrade(uri, revision)
        with sqlite3.connect(db, isolation_level=None) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            found = []
            for write in (
                f"INSERT INTO params VALUES ('{run_id}', 'p', '1')",
                f"UPDATE tags SET value = 'down' WHERE run_uuid = '{run_id}'",
            ):
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(write)
                conn.execute("COMMIT")
                found.append(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        frames[revision] = tuple(found)
    assert frames[HEAD_REVISION][0] < frames[BEFORE][0]
    assert frames[HEAD_REVISION][1] < frames[BEFORE][1]


def test_a_copy_left_by_a_killed_upgrade_outside_a_transaction_does_not_block_it(
    tmp_path: Path,
) -> None:
    """A plain engine commits each DDL statement: killed mid-way, it leaves the new table."""
    db = tmp_path / "t.db"
    uri = f"sqlite:///{db}"
    _seed(TrackingClient(uri))
    forget_stores()
    _downgrade(uri, BEFORE)
    values = _values(db)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE params_nt_rebuilt (run_uuid, key, value)")
        conn.execute("INSERT INTO params_nt_rebuilt VALUES ('half', 'copied', 'row')")

    upgrade(create_engine(uri), AT)

    tables, _, _ = _schema(db)
    assert all(sql.endswith(") WITHOUT ROWID") for sql in tables.values())
    assert _values(db) == values
    with sqlite3.connect(db) as conn:
        left = conn.execute("SELECT name FROM sqlite_master WHERE name LIKE '%nt_rebuilt'")
        assert left.fetchall() == []
