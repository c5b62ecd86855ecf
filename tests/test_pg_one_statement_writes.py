"""PostgreSQL's metric writes in one statement (store/pg_metric_write.py): a server's group of
requests and a synchronous point are written whole or not at all, keep each key's write order
and latest point, leave the pooled connection transactional, and are not undone by a merge
that fails after their commit."""

from __future__ import annotations

import logging
import math
import random
import threading
import time

import numpy as np
import pytest
from sqlalchemy import text

from notebook_tracker import env
from notebook_tracker.client import TrackingClient
from notebook_tracker.errors import InvalidParameter, NotFound
from notebook_tracker.server.ingest import GroupWriter
from notebook_tracker.store import forget_stores, pg_metric_write
from notebook_tracker.store.metric_staging import STAGED_RUNS
from notebook_tracker.store.pg_metric_write import PgMetricWriter

pytestmark = pytest.mark.postgres

KEYS = 20  # staged: a run's points of many keys in one row


def _request(run_id: str, step: int, keys: int = KEYS) -> list[tuple]:
    return [(run_id, f"m{k:02d}", step * 100.0 + k, 1_700_000_000_000 + step, step)
            for k in range(keys)]  # fmt: skip


@pytest.fixture
def client(postgres_uri: str):
    found = TrackingClient(postgres_uri)
    assert isinstance(found.store._fast_metrics, PgMetricWriter)  # type: ignore[attr-defined]
    yield found
    forget_stores()


def _chunk_count(client: TrackingClient) -> int:
    with client.store.writer.connect() as conn:  # type: ignore[attr-defined]
        return conn.execute(text("SELECT count(*) FROM metric_chunks")).scalar_one()


def test_a_group_with_a_deleted_run_writes_nothing_and_names_the_run(client: TrackingClient):
    exp = client.create_experiment("whole")
    kept, deleted = (client.create_run(exp).info.run_id for _ in range(2))
    client.store.log_metric_groups(_request(kept, 0))
    before = _chunk_count(client)
    client.delete_run(deleted)
    with pytest.raises(InvalidParameter, match=f"Run {deleted} is deleted; restore it"):
        client.store.log_metric_groups(_request(kept, 1) + _request(deleted, 1))
    with pytest.raises(NotFound, match="not-a-run"):
        client.store.log_metric_groups(_request(kept, 2) + _request("not-a-run", 2))
    assert _chunk_count(client) == before
    assert client.get_run(kept).data.metrics["m00"] == 0.0  # step 0's, untouched
    assert [m.step for m in client.get_metric_history(kept, "m03")] == [0]


def test_a_key_keeps_its_write_order_across_staged_rows_chunks_and_merges(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
):
    """Every point at one step and timestamp: a history is then in write order alone."""
    run_id = client.create_run(client.create_experiment("order")).info.run_id
    monkeypatch.setattr(STAGED_RUNS, "every", 32)
    monkeypatch.setattr(STAGED_RUNS, "rows", {run_id: 0})
    written = []
    for n in range(80):  # two merges, the second with staged rows after it
        if n % 5 == 4:  # a lone point of the key (a chunk) between the many-key requests
            client.store.log_metric_groups([(run_id, "m03", -n, 7, 0)])
        else:
            client.store.log_metric_groups(
                [(run_id, f"m{k:02d}", n if k == 3 else 0.0, 7, 0) for k in range(KEYS)]
            )
        written.append(-n if n % 5 == 4 else n)
    assert [m.value for m in client.get_metric_history(run_id, "m03")] == written
    assert client.get_run(run_id).data.metrics["m03"] == written[-1]


def test_a_group_keeps_the_later_of_two_points_at_one_step(client: TrackingClient):
    """Two requests in one group, as the server merges them: a tie on (step, timestamp) goes to
    the later request, and an older step never replaces a newer one."""
    writer = client.store._fast_metrics  # type: ignore[attr-defined]
    run_id = client.create_run(client.create_experiment("ties")).info.run_id
    first = writer.prepare(_request(run_id, 5), stage=True)
    second = writer.prepare(
        [(run_id, "m00", -1.0, 1_700_000_000_005, 5), (run_id, "m01", -2.0, 9, 4)], stage=True
    )
    assert writer.write_prepared(writer.merge(first, second))
    metrics = client.get_run(run_id).data.metrics
    assert metrics["m00"] == -1.0
    assert metrics["m01"] == 501.0


def test_the_pooled_connection_is_transactional_again_after_a_write(client: TrackingClient):
    """The write runs in autocommit; a transaction that then gets the same pooled connection
    must still roll back as a whole."""
    run_id = client.create_run(client.create_experiment("pool")).info.run_id
    client.store.log_metric_groups(_request(run_id, 0))
    writer = client.store.writer  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError), writer.begin() as conn:
        conn.execute(text("DELETE FROM metric_chunks"))
        raise RuntimeError("undo")
    assert _chunk_count(client) == 1
    client.log_metric(run_id, "lone", 1.5, step=3)  # a synchronous point, one statement too
    assert client.get_run(run_id).data.metrics["lone"] == 1.5


def test_a_merge_that_fails_after_the_commit_keeps_the_points(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    def broken(*_args: object) -> list[str]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(pg_metric_write, "unstage", broken)
    run_id = client.create_run(client.create_experiment("merge")).info.run_id
    monkeypatch.setattr(STAGED_RUNS, "every", 32)
    monkeypatch.setattr(STAGED_RUNS, "rows", {run_id: 0})
    with caplog.at_level(logging.WARNING, logger=pg_metric_write.__name__):
        for step in range(40):  # a merge falls due on the way, and fails
            client.store.log_metric_groups(_request(run_id, step))
    assert "could not merge metric chunks" in caplog.text
    assert [m.step for m in client.get_metric_history(run_id, "m07")] == list(range(40))


def test_a_servers_group_is_answered_before_the_merge_it_made_due(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
):
    """A merge comes after the commit, and the requests of the group that made it due are
    answered first: the points are durable, and the merge is a second transaction."""

    real_unstage, real_compact = pg_metric_write.unstage, PgMetricWriter.compact
    merging, release, compacted = threading.Event(), threading.Event(), threading.Event()

    def held_unstage(*args: object) -> list[str]:
        merging.set()
        assert release.wait(30)
        return real_unstage(*args)  # type: ignore[arg-type]

    def watched_compact(self: PgMetricWriter, prepared: object) -> None:
        real_compact(self, prepared)  # type: ignore[arg-type]
        compacted.set()

    monkeypatch.setattr(pg_metric_write, "unstage", held_unstage)
    monkeypatch.setattr(PgMetricWriter, "compact", watched_compact)
    run_id = client.create_run(client.create_experiment("answered")).info.run_id
    writer = GroupWriter(client.store)  # type: ignore[arg-type]
    step = 0
    while not merging.is_set():  # each request answered; one of them makes a merge due
        compacted.clear()
        assert writer.submit(rows=_request(run_id, step)).result(timeout=30) is True
        step += 1
        while not (merging.is_set() or compacted.wait(0.01)):  # after the answer, the merge
            pass
        assert step <= STAGED_RUNS.every, "no merge fell due"
    try:
        assert [m.step for m in client.get_metric_history(run_id, "m07")] == list(range(step))
    finally:
        release.set()
    assert writer.submit(rows=_request(run_id, step)).result(timeout=30) is True
    assert [m.step for m in client.get_metric_history(run_id, "m07")] == list(range(step + 1))
    with client.store.writer.connect() as conn:  # type: ignore[attr-defined]
        staged = conn.execute(text("SELECT count(*) FROM metric_chunks WHERE key = ''"))
        assert staged.scalar_one() == 1  # the merged ones gone: only the last request's


@pytest.mark.parametrize("prepared", [True, False], ids=["prepared", "unprepared"])
def test_writes_go_on_after_the_database_drops_the_connection(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch, prepared: bool
):
    """The statement is prepared per connection (unless turned off for a pooler): a new
    connection after the old one was terminated prepares it again, without an error."""
    if not prepared:
        monkeypatch.setenv(env.POSTGRES_NO_PREPARE, "1")
    run_id = client.create_run(client.create_experiment("lost")).info.run_id
    client.store.log_metric_groups(_request(run_id, 0))
    client.store.log_metric_groups(_request(run_id, 1))
    with client.store.reader.connect() as conn:  # type: ignore[attr-defined]
        gone = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    assert gone >= 1
    time.sleep(0.2)  # the notice of the end reaches the pooled connection
    client.store.log_metric_groups(_request(run_id, 2))
    client.log_metric(run_id, "m00", -1.0, step=3)
    assert [m.step for m in client.get_metric_history(run_id, "m00")] == [0, 1, 2, 3]
    assert client.get_run(run_id).data.metrics["m05"] == 205.0


def test_array_parameters_carry_any_text_and_float_back_exactly(postgres_uri: str):
    """The statement's arrays are texts built here (pg_upserts.array_literal): whatever a key
    or a value holds, PostgreSQL reads back what was sent."""
    import psycopg2

    from notebook_tracker.store.pg_upserts import array_literal

    texts = ["plain", "", "NULL", "a,b", "{x}", 'q"uote', "back\\slash", '\\"', " pad ", "é☃"]
    floats = [0.1 + 0.2, 5e-324, 1.7976931348623157e308, -0.0, 1e16, 1.5e-7, random.random()]
    odd_floats = [float("inf"), float("-inf"), np.float64(0.1), True, 3]  # not orjson's floats
    ints = [0, -1, 2**63 - 1, -(2**63), 1_700_000_000_000]
    with psycopg2.connect(postgres_uri) as conn, conn.cursor() as cursor:
        for values in (texts, texts[:1], [], ["a", "b"], ['"', '""']):
            cursor.execute("SELECT %s::text[]", (array_literal("text", values),))
            assert cursor.fetchone()[0] == values
        for values in (floats, odd_floats, floats + odd_floats, []):
            cursor.execute("SELECT %s::float8[]", (array_literal("float8", values),))
            back = cursor.fetchone()[0]
            assert back == [float(v) for v in values]
            assert [math.copysign(1, v) for v in back] == [math.copysign(1, v) for v in values]
        for values in (ints, [np.int64(7), True, 2.0], []):
            cursor.execute("SELECT %s::bigint[]", (array_literal("bigint", values),))
            assert cursor.fetchone()[0] == [int(v) for v in values]


def test_a_database_that_refuses_connections_is_a_clear_error_and_writes_resume(
    client: TrackingClient, postgres_uri: str
):
    import psycopg2

    from notebook_tracker.errors import StoreUnavailable

    run_id = client.create_run(client.create_experiment("down")).info.run_id
    client.store.log_metric_groups(_request(run_id, 0))
    name = postgres_uri.rsplit("/", 1)[1]
    admin = psycopg2.connect(postgres_uri.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        time.sleep(0.2)
        with pytest.raises(StoreUnavailable, match="Check that the database server is running"):
            client.store.log_metric_groups(_request(run_id, 1))
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.close()
    client.store.log_metric_groups(_request(run_id, 2))
    assert [m.step for m in client.get_metric_history(run_id, "m00")] == [0, 2]


def test_a_group_writes_its_requests_points_in_their_order(client: TrackingClient):
    """A lone point, then a many-key request, then a lone point again, merged in one write
    (as a server groups them): at one step and timestamp, the history is in that order and
    the last one is the latest."""
    writer = client.store._fast_metrics  # type: ignore[attr-defined]
    run_id = client.create_run(client.create_experiment("merged")).info.run_id
    parts = [
        [(run_id, "m03", 1.0, 7, 0)],
        [(run_id, f"m{k:02d}", 2.0, 7, 0) for k in range(KEYS)],
        [(run_id, "m03", 3.0, 7, 0)],
    ]
    prepared = writer.prepare(parts[0], stage=True)
    for part in parts[1:]:
        prepared = writer.merge(prepared, writer.prepare(part, stage=True))
    assert writer.write_prepared(prepared)
    assert [m.value for m in client.get_metric_history(run_id, "m03")] == [1.0, 2.0, 3.0]
    assert client.get_run(run_id).data.metrics["m03"] == 3.0


def test_a_write_after_the_pools_idle_ping_is_not_refused(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
):
    """The pool pings a connection that sat idle (pg_reads.ping_when_idle) with a statement;
    on the writer that statement must not leave the connection inside a transaction, where
    the write's autocommit is refused ("set_session cannot be used inside a transaction")."""
    from notebook_tracker.store import pg_reads

    run_id = client.create_run(client.create_experiment("ping")).info.run_id
    client.store.log_metric_groups(_request(run_id, 0))
    monkeypatch.setattr(pg_reads, "PING_AFTER_IDLE_S", 0.0)  # every checkout pings
    for step in (1, 2):
        client.store.log_metric_groups(_request(run_id, step))
        client.log_metric(run_id, "lone", float(step), step=step)
    with pytest.raises(RuntimeError), client.store.writer.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text("DELETE FROM metric_chunks"))
        raise RuntimeError("undo")
    assert [m.step for m in client.get_metric_history(run_id, "m00")] == [0, 1, 2]
    assert client.get_run(run_id).data.metrics["lone"] == 2.0


def _recent_group_of_two(monkeypatch: pytest.MonkeyPatch, store: object) -> GroupWriter:
    """A group writer whose last write saw two requests at once a moment ago, and a long wait
    for the requests it expects (a test that waits it out fails by its own timeout)."""
    from notebook_tracker.server import ingest

    monkeypatch.setattr(ingest, "GATHER_S", 60.0)
    monkeypatch.setattr(ingest, "GATHER_AFTER_S", 60.0)
    writer = GroupWriter(store)  # type: ignore[arg-type]
    writer._at_once, writer._ended = 2, time.monotonic()  # noqa: SLF001
    return writer


def test_a_batch_is_held_for_the_requests_the_last_write_saw_and_written_with_them(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
):
    runs = [client.create_run(client.create_experiment(f"g{n}")).info.run_id for n in range(2)]
    writer = _recent_group_of_two(monkeypatch, client.store)
    first = writer.submit(rows=_request(runs[0], 0))
    time.sleep(0.3)
    assert not first.done()  # held: the last write saw two requests at once
    second = writer.submit(rows=_request(runs[1], 0))
    assert first.result(timeout=30) is True and second.result(timeout=30) is True
    assert writer.groups == 1  # both in one statement
    for run_id in runs:
        assert [m.step for m in client.get_metric_history(run_id, "m07")] == [0]


def test_a_synchronous_point_and_a_batch_after_a_quiet_spell_are_never_held(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
):
    from notebook_tracker.server import ingest

    run_id = client.create_run(client.create_experiment("lone")).info.run_id
    writer = _recent_group_of_two(monkeypatch, client.store)
    lone_point = writer.submit(rows=[(run_id, "loss", 0.5, 1_700_000_000_000, 0)])
    assert lone_point.result(timeout=10) is True  # a point of a synchronous call: at once
    writer._at_once, writer._ended = 2, time.monotonic() - 1.0  # noqa: SLF001
    monkeypatch.setattr(ingest, "GATHER_AFTER_S", 0.005)
    assert writer.submit(rows=_request(run_id, 1)).result(timeout=10) is True  # quiet: at once
    assert writer.groups == 2
