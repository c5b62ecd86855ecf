"""Opening a store brings its schema up to date, or refuses a newer one clearly."""

from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import create_engine, inspect, text

from notebook_tracker.errors import StoreVersionError
from notebook_tracker.store import forget_stores
from notebook_tracker.store.schema import HEAD_REVISION
from notebook_tracker.store.schema_version import current_revision, upgrade
from notebook_tracker.store.sql import SqlStore


def test_new_store_is_created_at_the_current_revision(tmp_path):
    uri = f"sqlite:///{tmp_path / 'new.db'}"
    SqlStore(uri)
    assert current_revision(create_engine(uri)) == HEAD_REVISION


def test_older_database_is_migrated_and_keeps_its_runs(tmp_path):
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(uri)
    upgrade(engine, "0001_initial")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage) "
                "VALUES (0, 'Default', '/tmp/a/0', 'active')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO runs (run_uuid, name, experiment_id, status, start_time, "
                "lifecycle_stage, artifact_uri) VALUES ('a' || '0123456789abcdef0123456789abcde', "
                "'old-run', 0, 'FINISHED', 1, 'active', '/tmp/a/0/x/artifacts')"
            )
        )
    assert "owner_pid" not in {c["name"] for c in inspect(engine).get_columns("runs")}
    forget_stores()
    store = SqlStore(uri)
    assert current_revision(engine) == HEAD_REVISION
    assert "owner_pid" in {c["name"] for c in inspect(engine).get_columns("runs")}
    assert store.get_run("a0123456789abcdef0123456789abcde").info.run_name == "old-run"


def test_database_from_a_newer_version_is_refused_with_advice(tmp_path):
    uri = f"sqlite:///{tmp_path / 'future.db'}"
    SqlStore(uri)
    with create_engine(uri).begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    forget_stores()
    from notebook_tracker.store import engine as engine_module

    engine_module._engines.clear()
    with pytest.raises(StoreVersionError, match="newer notebook-tracker.*pip install -U"):
        SqlStore(uri)


def _open(uri: str) -> str:
    return SqlStore(uri).get_experiment("0").name


def test_several_processes_opening_a_new_store_at_once_all_succeed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'race.db'}"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        assert pool.map(_open, [uri] * 4) == ["Default"] * 4
