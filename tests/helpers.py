"""Small helpers shared by tests: free ports, waiting for services, service requirements.

Import them as ``from helpers import free_port`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest

from notebook_tracker import env


def require_all_enabled() -> bool:
    """True when CI demands that every test runs (``NOTEBOOK_TRACKER_REQUIRE_ALL=1``)."""
    return os.environ.get(env.REQUIRE_ALL, "").strip().lower() in {"1", "true", "yes", "on"}


def require_service(reason: str) -> NoReturn:
    """Skip the current test because a service is missing; fail instead under REQUIRE_ALL."""
    if require_all_enabled():
        pytest.fail(f"{reason} ({env.REQUIRE_ALL}=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    condition: Callable[[], bool],
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "condition",
) -> None:
    """Poll ``condition`` until it returns true; raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(interval)


def execute_in_kernel(nb: object, folder: object, uri: str, timeout: int = 300) -> None:
    """Run a notebook top to bottom in a real kernel (nbclient) started in `folder`, logging to
    `uri` (the kernel inherits NOTEBOOK_TRACKER_URI); this process's variables are put back after.
    Raises CellExecutionError, naming the cell, if any cell fails."""
    from nbclient import NotebookClient

    keys = ("NOTEBOOK_TRACKER_URI", "NOTEBOOK_TRACKER_ARTIFACT_ROOT")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["NOTEBOOK_TRACKER_URI"] = uri
    os.environ.pop("NOTEBOOK_TRACKER_ARTIFACT_ROOT", None)
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(folder)}},
        ).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def fresh_postgres_database(server_uri: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server at ``server_uri``, dropped on exit."""
    import psycopg2
    from sqlalchemy.engine import make_url

    name = f"nbt_test_{uuid.uuid4().hex[:16]}"
    admin = psycopg2.connect(server_uri, connect_timeout=5)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield make_url(server_uri).set(database=name).render_as_string(hide_password=False)
        _drop_database(admin, name)
    finally:
        admin.close()


def _drop_database(admin: Any, name: str) -> None:
    """DROP ... WITH (FORCE), which ends connections a test left open (a pooled engine, say).
    An autovacuum worker on the database is the server's own process, which a role without
    pg_signal_backend may not end (a full CI run failed a teardown so): it is done in moments,
    so the drop is tried again."""
    import psycopg2

    for attempt in range(20):
        try:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg2.errors.InsufficientPrivilege:
            if attempt == 19:
                raise
            time.sleep(0.5)


def run_fresh_python(code: str, *args: str) -> Any:
    """Run ``code`` in a new interpreter that sees this checkout and none of the
    NOTEBOOK_TRACKER_ settings of the test process; returns the JSON it printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEBOOK_TRACKER_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    ).stdout
    return json.loads(out)


def chunk_count(store: Any, run_id: str, key: str) -> int:
    """How many `metric_chunks` rows `store` holds for (run_id, key); key "" counts staged rows."""
    from sqlalchemy import func, select

    from notebook_tracker.store.schema import metric_chunks

    with store.reader.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(metric_chunks)
                .where(metric_chunks.c.run_uuid == run_id, metric_chunks.c.key == key)
            ).scalar_one()
        )


def all_page_ids(client: Any, exp: str, flt: str, order: list[str], size: int) -> list[str]:
    """The run ids of every page of a search of `size`-run pages, in order, token by token."""
    ids: list[str] = []
    token = None
    while True:
        page = client.store.search_runs([exp], flt, "ACTIVE_ONLY", size, order, token)
        ids += [r.info.run_id for r in page]
        token = page.token
        if not token:
            return ids


def downgrade_store(engine: Any, target: str) -> None:
    """Migrate the store behind SQLAlchemy `engine` down to alembic revision `target`."""
    from alembic import command
    from alembic.config import Config

    from notebook_tracker.store import schema_version

    cfg = Config()
    cfg.set_main_option("script_location", str(schema_version._MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, target)


def waiting_on_a_lock(client: Any, done: threading.Event, timeout: float = 20) -> bool:
    """Whether a session of `client`'s PostgreSQL database waits on a lock before `done` is
    set (polled for up to `timeout` s): a writer blocked behind another transaction."""
    from sqlalchemy import text

    end = time.monotonic() + timeout
    while time.monotonic() < end and not done.is_set():
        with client.store.reader.connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar()
        if waiting:
            return True
        time.sleep(0.05)
    return False


def pack_while_a_writer_commits(client: Any, monkeypatch: Any, write: Callable[[], object]) -> bool:
    """One packer batch of `client`'s store, during which `write` runs on another thread once
    the batch has read its values; returns after `write` ended, True if it had to wait on a
    lock (the batch's, on the run it writes to)."""
    from notebook_tracker.store import run_packer

    done = threading.Event()
    waited: list[bool] = []
    real_packed = run_packer._packed

    def packed_then_a_writer_commits(conn: Any, ids: Any) -> dict[str, str]:
        texts = real_packed(conn, ids)  # the values as this batch read them
        if not waited:
            threading.Thread(target=lambda: (write(), done.set()), daemon=True).start()
            waited.append(waiting_on_a_lock(client, done))
        return texts

    monkeypatch.setattr(run_packer, "_packed", packed_then_a_writer_commits)
    run_packer.pack_batch(client.store.writer)
    assert done.wait(20)
    return waited == [True]
