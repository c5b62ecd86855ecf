"""A new SQLite tracking store, created through the stdlib `sqlite3` module.

Creating a store the usual way imports SQLAlchemy and alembic and runs every migration: about
0.4 s of a fresh process's first point, four times its budget. The schema those migrations
leave is kept as SQL in `migrations/sqlite_head.sql`, written from a store they created
(`python -m notebook_tracker.store.sqlite_new_store` rewrites it; a test fails while it differs
from what the migrations make). A missing database, or one without tables, is created from it
in one transaction, stamped with its revision, with the default experiment the full store adds.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Iterator

from notebook_tracker.clock import now_ms
from notebook_tracker.entities import LifecycleStage
from notebook_tracker.store import sqlite_rows

SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "migrations", "sqlite_head.sql")
_REVISION_LINE = "-- revision: "
_STATEMENT_END = "\n;\n"
DEFAULT_EXPERIMENT_NAME = "Default"


def head_schema() -> tuple[str, list[str]]:
    """(revision, statements) of the schema file."""
    with open(SCHEMA_FILE, encoding="utf-8") as f:
        text = f.read()
    first, _, body = text.partition("\n")
    if not first.startswith(_REVISION_LINE):
        raise ValueError(f"{SCHEMA_FILE} does not start with {_REVISION_LINE!r}")
    statements = [s.strip() for s in body.split(_STATEMENT_END) if s.strip()]
    return first[len(_REVISION_LINE) :].strip(), statements


def create(database: str, revision: str, artifact_root: str) -> bool:
    """Create the store at `revision` in `database` (made if missing) when it holds nothing yet.
    True when it now holds a store (made here or by another process); False when the schema
    file is not at `revision`, the database holds other tables, or SQLite fails: those are the
    full store's to open, migrate, or explain."""
    try:
        file_revision, statements = head_schema()
        if file_revision != revision:
            return False
        os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
        with schema_lock(database):
            conn = sqlite_rows.connect(database)
            try:
                return _create_in(conn, statements, revision, artifact_root)
            finally:
                conn.close()
    except (ImportError, OSError, ValueError, sqlite3.Error):
        return False


@contextlib.contextmanager
def schema_lock(database: str) -> Iterator[None]:
    """One creator or migrator of a SQLite store's schema at a time, across processes: an
    exclusive lock on a file beside it. Taken here and by the migrating store (schema_version)."""
    import fcntl  # POSIX; elsewhere the caller leaves the store to SQLite's own locking

    with open(f"{database}.lock", "a+") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _create_in(
    conn: sqlite3.Connection, statements: list[str], revision: str, artifact_root: str
) -> bool:
    conn.execute("BEGIN IMMEDIATE")
    try:
        tables = {
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if tables and "alembic_version" not in tables:
            conn.execute("ROLLBACK")
            return False
        if not tables:
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (revision,))
            t = now_ms()
            conn.execute(
                'INSERT INTO "experiments" ("experiment_id", "name", "artifact_location", '
                '"lifecycle_stage", "creation_time", "last_update_time") '
                "VALUES (0, ?, ?, ?, ?, ?)",
                (
                    DEFAULT_EXPERIMENT_NAME,
                    f"{artifact_root.rstrip('/')}/0",
                    LifecycleStage.ACTIVE,
                    t,
                    t,
                ),
            )
        conn.execute("COMMIT")
        return True
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def dump_migrated_schema(database: str) -> str:
    """The schema file's text for a store the migrations brought to their head, in `database`
    (a new file): tables, then indexes, then triggers, each as SQLite keeps it."""
    from sqlalchemy import create_engine

    from notebook_tracker.store.schema import HEAD_REVISION
    from notebook_tracker.store.schema_version import upgrade

    engine = create_engine(f"sqlite:///{database}")
    try:
        upgrade(engine, HEAD_REVISION)
    finally:
        engine.dispose()
    return _REVISION_LINE + HEAD_REVISION + "\n" + _STATEMENT_END.join(schema_statements(database))


def schema_statements(database: str) -> list[str]:
    """The CREATE statements of a database, in an order that replays: tables, indexes, views,
    triggers, each kind by name. SQLite's own tables (sqlite_sequence) are left to SQLite."""
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master "
            "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    finally:
        conn.close()
    order = {"table": 0, "index": 1, "view": 2, "trigger": 3}
    return [sql for _, _, sql in sorted(rows, key=lambda r: (order[r[0]], r[1]))]


if __name__ == "__main__":  # rewrite the schema file after adding a migration
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        text = dump_migrated_schema(os.path.join(folder, "head.db"))
    with open(SCHEMA_FILE, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(f"wrote {SCHEMA_FILE}", file=sys.stderr)
