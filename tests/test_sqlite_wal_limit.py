"""A SQLite store's WAL does not stay at the size a long read let it grow to
(store/sqlite_rows.WAL_SIZE_LIMIT): once the read is over and the WAL is checkpointed and
reused, the file is cut back."""

from __future__ import annotations

import os
import sqlite3

import notebook_tracker as nt
from notebook_tracker.entities import RunTag
from notebook_tracker.store import forget_stores, sqlite_rows

LIMIT = 256 * 1024


def test_a_wal_grown_behind_a_long_read_is_cut_back_after_it(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_rows, "WAL_SIZE_LIMIT", LIMIT)
    forget_stores()
    db = tmp_path / "store.db"
    client = nt.TrackingClient(f"sqlite:///{db}")
    run_id = client.create_run("0").info.run_id
    wal = f"{db}-wal"

    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM runs").fetchall()  # a snapshot the WAL must keep
    for batch in range(40):
        tags = [RunTag(f"t{batch}-{i}", "x" * 1000) for i in range(50)]
        client.log_batch(run_id, tags=tags)
    grown = os.path.getsize(wal)
    assert grown > 4 * LIMIT
    reader.execute("COMMIT")
    reader.close()

    for step in range(3):  # a checkpoint can now finish, and the next write reuses the WAL
        client.set_tag(run_id, "after", str(step))
    assert os.path.getsize(wal) <= LIMIT
    assert client.get_run(run_id).data.tags["t39-49"] == "x" * 1000
    forget_stores()
