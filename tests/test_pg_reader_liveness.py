"""The PostgreSQL reader (pg_reads.py) and writer trust a pooled connection without a round
trip, yet a connection whose backend ended between two reads or writes (a server restart,
pg_terminate_backend) is replaced before the next one instead of failing it; a connection lost
while a statement was being prepared fails that read with the store's error and leaves the
text preparable."""

from __future__ import annotations

import time

import psycopg2
import pytest

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric, Param
from notebook_tracker.errors import TrackerError
from notebook_tracker.store import pg_reads

pytestmark = pytest.mark.postgres

_SQL = "SELECT count(*) FROM runs WHERE experiment_id = %(exp)s"


@pytest.fixture
def store_uri(postgres_uri: str) -> str:
    return postgres_uri


def _seed(client: TrackingClient) -> str:
    exp = client.create_experiment("liveness")
    for i in range(5):
        rid = client.create_run(exp, start_time=1000 + i).info.run_id
        client.store.log_batch(rid, [Metric("acc", i / 4, 1, 0)], [Param("lr", str(i % 2))], [])
    return exp


def _search(client: TrackingClient, exp: str) -> list[str]:
    found = client.store.search_runs([exp], "params.lr = '1'", "ACTIVE_ONLY", 10, ["metrics.acc"])
    return [r.info.run_id for r in found]


def _backend(client: TrackingClient) -> int:
    with client.store.reader.connect() as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _terminate(postgres_uri: str, pid: int) -> None:
    admin = psycopg2.connect(postgres_uri)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    admin.close()
    time.sleep(0.2)  # the backend's goodbye reaches the client's socket


def test_a_connection_whose_backend_ended_is_replaced_before_the_next_read(
    client: TrackingClient, postgres_uri: str
):
    exp = _seed(client)
    expected = [_search(client, exp) for _ in range(3)][-1]
    old = _backend(client)
    _terminate(postgres_uri, old)
    assert _search(client, exp) == expected  # no error: not even the first read after
    assert _backend(client) != old
    assert [_search(client, exp) for _ in range(3)][-1] == expected


def test_a_writer_connection_whose_backend_ended_is_replaced_before_the_next_write(
    client: TrackingClient, postgres_uri: str
):
    exp = _seed(client)
    run_id = client.create_run(exp).info.run_id
    with client.store.writer.connect() as conn:
        old = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    _terminate(postgres_uri, old)
    client.store.log_batch(run_id, [Metric("acc", 0.5, 1, 1)])  # no error: not even this one
    with client.store.writer.connect() as conn:
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != old
    assert client.get_run(run_id).data.metrics == {"acc": 0.5}


def test_a_connection_lost_while_preparing_fails_that_read_but_the_text_stays_preparable(
    client: TrackingClient, postgres_uri: str
):
    exp = _seed(client)
    with client.store.reader.connect() as conn:
        conn.exec_driver_sql(_SQL, {"exp": int(exp)}).scalar()  # the next run prepares it
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        _terminate(postgres_uri, pid)
        with pytest.raises(TrackerError, match="server closed the connection"):
            conn.exec_driver_sql(_SQL, {"exp": int(exp)}).scalar()
    assert _SQL not in pg_reads._unpreparable
    with client.store.reader.connect() as conn:
        counts = [conn.exec_driver_sql(_SQL, {"exp": int(exp)}).scalar() for _ in range(3)]
        prepared = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%count(*)%%'"
        ).scalar()
    assert counts == [5, 5, 5] and prepared == 1
