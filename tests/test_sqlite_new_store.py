"""A new SQLite store made by a fresh process's first point (store/sqlite_new_store.py) must be
the store the migrations make, so that every later open, migration and read finds what it
expects, and creating it must be safe when several processes start at once."""

from __future__ import annotations

import multiprocessing
import sqlite3
import textwrap
from pathlib import Path

import pytest
from helpers import run_fresh_python

from notebook_tracker.errors import TrackerError
from notebook_tracker.store import factory, sqlite_new_store
from notebook_tracker.store.schema import HEAD_REVISION
from notebook_tracker.store.schema_version import current_revision
from notebook_tracker.store.sql import SqlStore
from notebook_tracker.store.sqlite_first_write import FirstWriteStore


def _rows(database: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(database)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_schema_file_is_what_the_migrations_make(tmp_path: Path) -> None:
    made = sqlite_new_store.dump_migrated_schema(str(tmp_path / "migrated.db"))
    kept = Path(sqlite_new_store.SCHEMA_FILE).read_text(encoding="utf-8").rstrip("\n")
    assert kept == made, (
        "migrations/sqlite_head.sql is stale: run python -m notebook_tracker.store.sqlite_new_store"
    )


def test_a_store_created_without_sqlalchemy_equals_one_the_full_store_created(
    tmp_path: Path,
) -> None:
    fast_db, full_db = tmp_path / "fast" / "t.db", tmp_path / "full" / "t.db"
    assert FirstWriteStore.open(f"sqlite:///{fast_db}") is not None
    SqlStore(f"sqlite:///{full_db}")
    assert sqlite_new_store.schema_statements(str(fast_db)) == (
        sqlite_new_store.schema_statements(str(full_db))
    )
    assert _rows(fast_db, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]
    experiments = "SELECT experiment_id, name, lifecycle_stage, artifact_location FROM experiments"
    (fast_exp,), (full_exp,) = _rows(fast_db, experiments), _rows(full_db, experiments)
    assert fast_exp[:3] == full_exp[:3] == (0, "Default", "active")
    assert str(fast_exp[3]).replace("/fast/", "/") == str(full_exp[3]).replace("/full/", "/")
    assert _rows(fast_db, "PRAGMA journal_mode") == [("wal",)]


def test_the_full_store_opens_a_store_created_without_sqlalchemy_as_current(
    tmp_path: Path,
) -> None:
    uri = f"sqlite:///{tmp_path / 't.db'}"
    fast = FirstWriteStore.open(uri)
    assert fast is not None
    run_id = fast.create_run("0", "ann", 1_000).info.run_id
    fast.log_metric_rows([(run_id, "loss", 0.5, 2_000, 0)])
    factory.forget_stores()
    full = SqlStore(uri)
    assert full.get_run(run_id).data.metrics == {"loss": 0.5}
    assert full.get_experiment("0").name == "Default"
    from sqlalchemy import create_engine

    assert current_revision(create_engine(uri)) == HEAD_REVISION


def test_an_empty_database_file_is_created_as_a_new_store(tmp_path: Path) -> None:
    database = tmp_path / "t.db"
    database.touch()  # what an interrupted first open, or `sqlite3 t.db ""`, leaves
    assert FirstWriteStore.open(f"sqlite:///{database}") is not None
    assert _rows(database, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]


def test_a_store_that_cannot_be_created_is_refused_in_the_full_stores_words(
    tmp_path: Path,
) -> None:
    (tmp_path / "not-a-folder").write_text("x")
    uri = f"sqlite:///{tmp_path / 'not-a-folder' / 't.db'}"
    assert FirstWriteStore.open(uri) is None
    with pytest.raises(TrackerError, match="not-a-folder"):
        SqlStore(uri)


FIRST_POINT = textwrap.dedent(
    """
    import json, sys
    import notebook_tracker as nt
    nt.set_tracking_uri(sys.argv[1])
    run = nt.start_run()
    nt.log_metric("x", 1.0)
    nt.flush()
    print(json.dumps({"run_id": run.info.run_id, "sqlalchemy": "sqlalchemy" in sys.modules}))
    """
)


def test_a_fresh_process_makes_a_new_stores_first_point_durable_without_sqlalchemy(
    tmp_path: Path,
) -> None:
    uri = f"sqlite:///{tmp_path / 'new' / 't.db'}"
    result = run_fresh_python(FIRST_POINT, uri)
    assert result["sqlalchemy"] is False
    assert SqlStore(uri).get_run(result["run_id"]).data.metrics == {"x": 1.0}


def _first_point(args: tuple[str, bool]) -> str:
    uri, full = args
    factory.forget_stores()
    if full:  # the usual way: SQLAlchemy, alembic, under the same lock
        store = SqlStore(uri)
    else:
        fast = FirstWriteStore.open(uri)
        assert fast is not None
        store = fast  # type: ignore[assignment]
    run_id = store.create_run("0", "ann", 1_000).info.run_id
    store.log_metric_rows([(run_id, "x", 1.0, 1_000, 0)])
    return run_id


def test_processes_creating_one_new_store_at_once_all_log_their_runs(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'race.db'}"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        run_ids = pool.map(_first_point, [(uri, False), (uri, True), (uri, False), (uri, False)])
    store = SqlStore(uri)
    assert {r: store.get_run(r).data.metrics for r in run_ids} == {r: {"x": 1.0} for r in run_ids}
    assert [e.name for e in store.search_experiments()] == ["Default"]


def test_a_database_holding_other_tables_is_left_to_the_full_store(tmp_path: Path) -> None:
    database = tmp_path / "t.db"
    conn = sqlite3.connect(database)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    assert FirstWriteStore.open(f"sqlite:///{database}") is None
    assert _rows(database, "SELECT name FROM sqlite_master WHERE type = 'table'") == [("notes",)]


KILLED_WHILE_CREATING = textwrap.dedent(
    """
    import os, sys
    from notebook_tracker.store import sqlite_new_store
    sqlite_new_store.now_ms = lambda: os._exit(9)  # dies after the tables, before the commit
    from notebook_tracker.store.sqlite_first_write import FirstWriteStore
    FirstWriteStore.open(sys.argv[1])
    """
)


def test_a_process_killed_while_creating_a_store_leaves_one_the_next_process_creates(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    database = tmp_path / "t.db"
    uri = f"sqlite:///{database}"
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_CREATING, uri], check=False)
    assert killed.returncode == 9
    assert _rows(database, "SELECT name FROM sqlite_master") == []  # nothing half made
    fast = FirstWriteStore.open(uri)
    assert fast is not None
    run_id = fast.create_run("0", "ann", 1_000).info.run_id
    assert SqlStore(uri).get_run(run_id).info.experiment_id == "0"


def test_a_schema_file_behind_the_migrations_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "stale.sql"
    text = Path(sqlite_new_store.SCHEMA_FILE).read_text(encoding="utf-8")
    stale.write_text(text.replace(HEAD_REVISION, "0007_staged_metric_points", 1), "utf-8")
    monkeypatch.setattr(sqlite_new_store, "SCHEMA_FILE", str(stale))
    uri = f"sqlite:///{tmp_path / 'new' / 't.db'}"
    assert FirstWriteStore.open(uri) is None
    assert SqlStore(uri).get_experiment("0").name == "Default"  # the migrations made it
