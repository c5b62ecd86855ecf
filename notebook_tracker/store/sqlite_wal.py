"""A SQLite store's WAL file given its working size before synchronous commits need it.

In WAL mode with synchronous=FULL a commit ends with one fdatasync of the WAL. While the WAL
file grows, each of those fdatasyncs also writes the file's new size and block map, which on
this machine's ext4 costs about twice an fdatasync of pages overwritten in place. SQLite
deletes the WAL when a database's last connection closes, so a server started on a store
grows it again: its first ~250 synchronous `set_tag` calls took 0.62-0.70 ms each, the next
ones 0.39-0.46 ms, once the first automatic checkpoint had let SQLite write the WAL from its
start again.

`presize` writes zeros past the WAL's end up to the size it reaches at that checkpoint, once,
for a long-lived writer (a server). SQLite reads a WAL only up to its last valid frame (each
frame carries its header's salt and a running checksum), so zeros are never taken for frames,
and a WAL whose header is zeros is an empty one. They are written inside a write transaction,
which SQLite grants one connection at a time, so no commit appends to the file meanwhile; the
transaction is rolled back, having written nothing of its own. On a disk with little room
left (under 16 times the size to add), or one that fills meanwhile, the WAL is left to grow as
the store's commits need it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from notebook_tracker.errors import TrackerError
from notebook_tracker.store.sqlite_files import database_file

log = logging.getLogger(__name__)

WAL_HEADER = 32
FRAME_HEADER = 24
CHUNK = 1 << 20
# The commit that crosses the checkpoint threshold writes all its pages before the checkpoint
# runs: room for a few large ones.
SLACK = 1.125
ROOM = 16


def presize(engine: Engine) -> int:
    """Bytes of zeros written past the end of `engine`'s WAL (a SQLite engine in WAL mode); 0
    when it is that size already or cannot be written (a read-only store): the writes then
    simply grow it, as before."""
    database = database_file(engine.url) if engine.dialect.name == "sqlite" else None
    if not database:
        return 0
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")  # BEGIN IMMEDIATE: SQLite's one writer is us
            driver: Any = conn.connection.driver_connection
            try:
                return _extend(driver, f"{database}-wal")
            finally:
                conn.rollback()
    except (OSError, sqlite3.Error, SQLAlchemyError, TrackerError) as error:
        log.debug("the WAL of %s was left to grow: %s", database, error)
        return 0


def _extend(driver: sqlite3.Connection, wal: str) -> int:
    mode = driver.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal" or not os.path.exists(wal):
        return 0
    # A write of our own (rolled back with the transaction): a connection that may not write
    # (`mode=ro`, a read-only file) is refused here, and so leaves the files as they are.
    version = driver.execute("PRAGMA user_version").fetchone()[0]
    driver.execute(f"PRAGMA user_version = {int(version)}")
    page_size = int(driver.execute("PRAGMA page_size").fetchone()[0])
    pages = int(driver.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
    target = WAL_HEADER + int(max(pages, 0) * SLACK) * (page_size + FRAME_HEADER)
    fd = os.open(wal, os.O_WRONLY)
    try:
        size = os.fstat(fd).st_size
        if size >= target or not _room_for(wal, target - size):
            return 0
        offset = size
        zeros = bytes(min(CHUNK, target - size))
        try:
            while offset < target:
                offset += os.pwrite(fd, zeros[: target - offset], offset)
            os.fdatasync(fd)
        except OSError:
            os.ftruncate(fd, size)  # give back what was taken: the store's own writes need it
            raise
    finally:
        os.close(fd)
    return target - size


def _room_for(path: str, needed: int) -> bool:
    """Whether the disk has ROOM times `needed` free: on a nearly full disk the store's own
    commits have the last of the space, not a file sized ahead of them."""
    stats = os.statvfs(os.path.dirname(os.path.abspath(path)))
    return stats.f_bavail * stats.f_frsize >= ROOM * needed
