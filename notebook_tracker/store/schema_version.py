"""Bring a database to the schema this code expects: create it, migrate it, or refuse it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from notebook_tracker.errors import StoreVersionError
from notebook_tracker.store.schema import HEAD_REVISION, KNOWN_REVISIONS
from notebook_tracker.store.sqlite_files import database_file
from notebook_tracker.store.sqlite_new_store import schema_lock

_MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ensure_schema(engine: Engine) -> None:
    """Cheap when the database is current (one query); alembic is imported only to migrate."""
    revision = _quick_revision(engine)
    if revision == HEAD_REVISION:
        return
    _refuse_unknown(revision, engine)
    with _migration_lock(engine):
        revision = current_revision(engine)  # another process may have migrated meanwhile
        _refuse_unknown(revision, engine)
        if revision != HEAD_REVISION:
            upgrade(engine, HEAD_REVISION)


def _quick_revision(engine: Engine) -> str | None:
    """On SQLite, one small read on a pooled connection outside any transaction: no inspector,
    and no BEGIN IMMEDIATE, so opening a store never queues behind other processes' writes."""
    if engine.dialect.name != "sqlite":
        return current_revision(engine)
    import sqlite3

    try:
        raw = engine.raw_connection()
        try:
            return _read_revision(raw.cursor())
        finally:
            raw.close()
    except (sqlite3.Error, DBAPIError) as error:
        if "no such table" in str(error):
            return None
        # Anything else (cannot open, locked, damaged) again, with the store's own message.
        return current_revision(engine)


def _read_revision(cursor: Any) -> str | None:
    try:
        cursor.execute("SELECT version_num FROM alembic_version")
        row = cursor.fetchone()
    finally:
        cursor.close()
    return row[0] if row else None


def upgrade(engine: Engine, target: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)


def _refuse_unknown(revision: str | None, engine: Engine) -> None:
    if revision is not None and revision not in KNOWN_REVISIONS:
        raise StoreVersionError(
            f"The tracking database {engine.url.render_as_string(hide_password=True)} has schema "
            f"revision {revision!r}, written by a newer notebook-tracker than this one (which "
            f"knows up to {HEAD_REVISION!r}). Upgrade notebook-tracker "
            "(pip install -U notebook-tracker) or point NOTEBOOK_TRACKER_URI at another store."
        )


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Several processes opening a new store at once must not migrate it twice."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(74201)"))
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(74201)"))
                conn.commit()
        return
    database = database_file(engine.url) if engine.dialect.name == "sqlite" else None
    if not database:
        yield
        return
    with schema_lock(database):
        yield
