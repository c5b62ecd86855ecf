"""PostgreSQL compresses metric chunks with lz4 (migration 0013): new stores and upgraded
ones; chunks written before the upgrade keep pglz and read back as they were, and the
downgrade puts PostgreSQL's default back."""

from __future__ import annotations

import importlib

import pytest
from helpers import downgrade_store
from sqlalchemy import text

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric
from notebook_tracker.store import forget_stores
from notebook_tracker.store.schema import HEAD_REVISION
from notebook_tracker.store.schema_version import current_revision, upgrade

pytestmark = pytest.mark.postgres

migration = importlib.import_module(
    "notebook_tracker.store.migrations.versions.0013_lz4_metric_chunks"
)

POINTS = 3_000  # one key's chunk of 3 x 24 KB: PostgreSQL compresses it


@pytest.fixture
def client(postgres_uri: str):
    yield TrackingClient(postgres_uri)
    forget_stores()


def _log_history(client: TrackingClient, run_id: str, key: str) -> list[Metric]:
    points = [Metric(key, step * 0.5, 1_700_000_000_000 + step, step) for step in range(POINTS)]
    client.log_batch(run_id, metrics=points)
    return points


def _compression(client: TrackingClient, key: str) -> set[str]:
    """How the chunks of `key` are stored: each column's method, for every chunk."""
    with client.store.writer.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            text(
                "SELECT pg_column_compression(steps), pg_column_compression(timestamps), "
                'pg_column_compression("values") FROM metric_chunks WHERE key = :k'
            ),
            {"k": key},
        )
        return {method for row in rows for method in row}


def _column_methods(client: TrackingClient) -> dict[str, str]:
    with client.store.writer.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            text(
                "SELECT attname, attcompression FROM pg_attribute "
                "WHERE attrelid = 'metric_chunks'::regclass AND attnum > 0"
            )
        )
        return {name: method for name, method in rows if name in migration.COLUMNS}


def _read_back(client: TrackingClient, run_id: str, key: str) -> list[tuple[int, int, float]]:
    history = client.get_metric_history(run_id, key)
    return [(m.step, m.timestamp, m.value) for m in history]


def _expected(points: list[Metric]) -> list[tuple[int, int, float]]:
    return [(m.step, m.timestamp, m.value) for m in points]


def test_a_new_postgres_store_writes_metric_chunks_with_lz4(client: TrackingClient):
    exp = client.create_experiment("lz4")
    run_id = client.create_run(exp).info.run_id
    points = _log_history(client, run_id, "loss")
    assert _column_methods(client) == dict.fromkeys(migration.COLUMNS, "l")
    assert _compression(client, "loss") == {"lz4"}
    assert _read_back(client, run_id, "loss") == _expected(points)


def test_an_upgraded_store_reads_its_pglz_chunks_and_writes_new_ones_with_lz4(
    client: TrackingClient,
):
    exp = client.create_experiment("upgrade")
    run_id = client.create_run(exp).info.run_id
    engine = client.store.writer  # type: ignore[attr-defined]
    downgrade_store(engine, "0012_row_stale_marking")
    assert set(_column_methods(client).values()) == {""}  # PostgreSQL's default again
    before = _log_history(client, run_id, "before")
    assert _compression(client, "before") == {"pglz"}
    upgrade(engine, HEAD_REVISION)
    assert current_revision(engine) == HEAD_REVISION
    after = _log_history(client, run_id, "after")
    assert _compression(client, "before") == {"pglz"}
    assert _compression(client, "after") == {"lz4"}
    assert _read_back(client, run_id, "before") == _expected(before)
    assert _read_back(client, run_id, "after") == _expected(after)
