"""The PostgreSQL reader's session (pg_reads.py): a repeated search runs as a prepared
statement and answers exactly as the first, unprepared one did; a pooled connection the server
dropped while idle is replaced, not handed to the caller; a failed read leaves the connection
usable; prepared statements can be turned off."""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg2
import pytest
from sqlalchemy import text

from notebook_tracker import env
from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.errors import TrackerError
from notebook_tracker.frames import columns_to_frame
from notebook_tracker.run_columns import RunColumns
from notebook_tracker.store import forget_stores, pg_key_values, pg_reads, sql_run_columns
from notebook_tracker.store.sql_search import build_run_search
from notebook_tracker.store.sqlite_key_values import driver_rows

pytestmark = pytest.mark.postgres


@pytest.fixture
def store_uri(postgres_uri: str) -> str:
    """PostgreSQL only: `client` (tests/conftest.py) is a client of it."""
    return postgres_uri


def _seed(client: TrackingClient, n: int = 30) -> str:
    exp = client.create_experiment("prepared")
    for i in range(n):
        rid = client.create_run(exp, start_time=1000 + i).info.run_id
        # Runs without the metric, with NaN and with ties: every rank of the metric order.
        metrics = [] if i % 5 == 0 else [Metric("acc", math.nan if i % 7 == 0 else i % 4, 1, 0)]
        client.store.log_batch(rid, metrics, [Param("lr", str(i % 3))], [RunTag("i", str(i))])
    return exp


def _search(client: TrackingClient, exp: str, token: str | None = None) -> tuple[list, str | None]:
    page = client.store.search_runs(
        [exp], "params.lr != '1'", "ACTIVE_ONLY", 7, ["metrics.acc DESC"], token
    )
    return [(r.info.run_id, r.data.metrics.get("acc")) for r in page], page.token


def _all_pages(client: TrackingClient, exp: str) -> list:
    rows, token = _search(client, exp)
    while token:
        more, token = _search(client, exp, token)
        rows += more
    return rows


def test_metric_ordered_pages_walk_the_index_yet_order_as_one_sorted_query(
    client: TrackingClient,
):
    exp = _seed(client)
    for order_by in (["metrics.acc DESC"], ["metrics.acc"], ["metrics.acc", "params.lr DESC"]):
        query = build_run_search([exp], ["active"], "params.lr != '1'", order_by, 0, 100)
        with client.store.reader.connect() as conn:
            expected = [row[0] for row in conn.execute(query)]
        for size in (1, 4, 100):
            rows, token = [], None
            while True:
                page = client.store.search_runs(
                    [exp], "params.lr != '1'", "ACTIVE_ONLY", size, order_by, token
                )
                rows += [r.info.run_id for r in page]
                token = page.token
                if not token:
                    break
            assert rows == expected, (order_by, size)


def _prepared_names(client: TrackingClient) -> set[str]:
    with client.store.reader.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT name FROM pg_prepared_statements"))}


def test_a_repeated_search_runs_prepared_and_pages_exactly_as_the_first_time(
    client: TrackingClient,
):
    exp = _seed(client)
    first = _all_pages(client, exp)  # each text once: nothing prepared yet
    assert len(first) == 20
    again = _all_pages(client, exp)
    assert any(name.startswith("nt_") for name in _prepared_names(client))
    # Ranks (missing, NaN), ties and keyset tokens bound as declared types: the same runs,
    # in the same order, as the unprepared pass.
    assert repr(again) == repr(first)
    assert repr(_all_pages(client, exp)) == repr(first)


def test_a_repeated_columns_read_runs_prepared_with_the_same_values(client: TrackingClient):
    # A small page reads its runs' values in its own statement (page_values.py), which a
    # repeated first page runs prepared with its values quoted in (pg_reads.kept_rows): it
    # must answer exactly as its first run through SQLAlchemy did.
    exp = _seed(client)

    def frame_repr() -> str:
        found, _ = client.store.search_run_columns([exp], max_results=1000)
        return repr(columns_to_frame(found).sort_index(axis=1).to_dict("list"))

    first = frame_repr()
    assert "metrics.acc" in first and "params.lr" in first and "tags.i" in first
    for _ in range(pg_reads.PREPARE_AT + 1):
        assert frame_repr() == first
    with client.store.reader.connect() as conn:
        prepared = conn.execute(
            text("SELECT statement FROM pg_prepared_statements WHERE name LIKE 'nt_kept_%'")
        ).scalars()
        assert any("array_agg(u.k)" in statement for statement in prepared)


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_a_read(
    client: TrackingClient, postgres_uri: str, monkeypatch: pytest.MonkeyPatch
):
    exp = _seed(client, 3)
    assert len(_search(client, exp)[0]) == 2
    with client.store.reader.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    admin = psycopg2.connect(postgres_uri)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    admin.close()
    monkeypatch.setattr(pg_reads, "PING_AFTER_IDLE_S", 0.0)
    with client.store.reader.connect() as conn:  # the same pooled connection, now dead
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    assert len(_search(client, exp)[0]) == 2


def test_a_failed_read_leaves_the_reader_usable(client: TrackingClient):
    exp = _seed(client, 3)
    with pytest.raises(TrackerError):
        with client.store.reader.connect() as conn:
            conn.execute(text("SELECT 1 / (SELECT count(*) - count(*) FROM runs)"))
    # Autocommit: no transaction left aborted for the next checkout of that connection.
    assert len(_search(client, exp)[0]) == 2


def test_reads_open_no_transaction(client: TrackingClient):
    # psycopg2 would send BEGIN before the first SELECT (and the pool a ROLLBACK at the end):
    # two round trips per read that a read does not need. In autocommit each statement is its
    # own transaction, so its start is that statement's start.
    with client.store.reader.connect() as conn:
        conn.execute(text("SELECT pg_sleep(0.02)"))
        assert conn.execute(text("SELECT now() = statement_timestamp()")).scalar() is True


def test_a_select_postgres_cannot_prepare_still_answers(client: TrackingClient):
    # A parameter of no inferable type: PREPARE refuses it, the quoted literal is "unknown".
    sql = text("SELECT pg_typeof(:a)::text")
    with client.store.reader.connect() as conn:
        for _ in range(pg_reads.PREPARE_AT + 1):
            assert conn.execute(sql, {"a": "x"}).scalar() == "unknown"
    assert "SELECT pg_typeof(%(a)s)::text" in pg_reads._unpreparable


def test_prepared_statements_can_be_turned_off_for_a_transaction_pooler(
    postgres_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(env.POSTGRES_NO_PREPARE, "1")
    forget_stores()
    client = TrackingClient(postgres_uri)
    try:
        exp = _seed(client, 10)
        first = _all_pages(client, exp)
        assert _all_pages(client, exp) == first
        assert not any(name.startswith("nt_") for name in _prepared_names(client))
    finally:
        forget_stores()


AWKWARD = [1 / 3, 0.1 + 0.2, 5e-324, 1.7976931348623157e308, math.inf, -math.inf, math.nan]


def _awkward_runs(client: TrackingClient) -> str:
    exp = client.create_experiment("awkward")
    for i, value in enumerate(AWKWARD):
        rid = client.create_run(exp, start_time=1000 + i).info.run_id
        params = [Param("p", "é,\"'{}\n")] if i % 2 else []
        tags = [RunTag("t", f"[{i}]")] if i % 3 else []
        client.store.log_batch(rid, [Metric("m", value, 1, 0)], params, tags)
    client.create_run(exp, start_time=2000)  # a run with no values at all
    return exp


def _frame_of_pages(client: TrackingClient, exp: str, max_results: int) -> Any:
    pages, token = [], None
    while True:
        found, token = client.store.search_run_columns(
            [exp], max_results=max_results, page_token=token
        )
        pages.append(found)
        if not token:
            return columns_to_frame(RunColumns.concat(pages))


def test_floats_read_back_exactly_from_a_server_set_to_print_fewer_digits(postgres_uri: str):
    admin = psycopg2.connect(postgres_uri)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT current_database()")
        (name,) = cur.fetchone()
        cur.execute(f'ALTER DATABASE "{name}" SET extra_float_digits = 0')  # 15 digits
    admin.close()
    forget_stores()
    client = TrackingClient(postgres_uri)
    try:
        exp = _awkward_runs(client)
        for max_results in (100, 1):  # one page, and pages of one
            got = _frame_of_pages(client, exp, max_results)["metrics.m"].tolist()
            want = [math.nan] + list(reversed(AWKWARD))  # newest first: the bare run
            assert [v.hex() for v in got] == [v.hex() for v in want]
    finally:
        forget_stores()


# Text that must come back as it was written: separators, quotes, newlines, backslashes, the
# text forms of NULL and NaN, an empty string, spaces.
AWKWARD_TEXT = ["a,b", 'say "hi"', "line\nbreak\r\n", "back\\slash", "\\N", "NULL", "NaN", "N/A"]
AWKWARD_TEXT += ["null", "", " x ", "#N/A"]


def _awkward_columns_runs(client: TrackingClient) -> str:
    exp = _awkward_runs(client)
    for i, value in enumerate(AWKWARD_TEXT):
        rid = client.create_run(exp, start_time=3000 + i).info.run_id
        # One name as a param, a metric and a tag at once.
        params = [Param("x", value), Param("k e/y:é", "é" * i)]
        tags = [RunTag("x", value), RunTag("none", "to be NULL")]
        client.store.log_batch(rid, [Metric("x", 1e-300 * i, 1, 0)], params, tags)
    with client.store.writer.begin() as conn:  # a tag without a value: the column allows it
        conn.execute(text("UPDATE tags SET value = NULL WHERE key = 'none'"))
    return exp


def test_a_big_page_reads_its_tables_on_three_connections_at_once_with_the_same_frame(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
):
    exp = _awkward_columns_runs(client)
    backends: list[int] = []

    def recording(conn: Any, sql: str, params: Any) -> list:
        backends.append(conn.connection.dbapi_connection.get_backend_pid())
        return driver_rows(conn, sql, params)

    monkeypatch.setattr(pg_key_values, "driver_rows", recording)
    monkeypatch.setattr(sql_run_columns, "AT_ONCE_FROM", 10**9)
    one_statement = _frame_of_pages(client, exp, 100)
    assert not backends
    monkeypatch.setattr(sql_run_columns, "AT_ONCE_FROM", 1)  # every page is "big"
    for max_results in (100, 3):
        backends.clear()
        at_once = _frame_of_pages(client, exp, max_results)
        assert len(backends) == 3 * -(-len(at_once) // max_results)
        assert len(set(backends[:3])) == 3  # a page's three tables: three backends
        pd.testing.assert_frame_equal(at_once, one_statement, check_exact=True)
        for column in at_once.columns:  # the bits: assert_frame_equal takes -0.0 for 0.0
            assert repr(at_once[column].tolist()) == repr(one_statement[column].tolist())
    assert set(at_once["params.x"].dropna()) == set(AWKWARD_TEXT)
    assert at_once["tags.none"].isna().all()  # the key is there, without values
    assert [v.hex() for v in at_once["metrics.m"].dropna()] == [
        v.hex() for v in reversed(AWKWARD) if not math.isnan(v)
    ]


def test_a_big_page_whose_table_read_fails_raises_and_leaves_the_reader_usable(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
):
    exp = _seed(client, 5)
    tables = list(sql_run_columns._PG_TABLES)
    failing = tables[:2] + [
        tables[2].replace("array_agg(e.pos - 1)", "array_agg(1 / (e.pos - e.pos))")
    ]
    monkeypatch.setattr(sql_run_columns, "AT_ONCE_FROM", 1)
    monkeypatch.setattr(sql_run_columns, "_PG_TABLES", failing)
    with pytest.raises(TrackerError):
        client.store.search_run_columns([exp], max_results=100)
    monkeypatch.setattr(sql_run_columns, "_PG_TABLES", tables)
    found, _ = client.store.search_run_columns([exp], max_results=100)
    assert len(found) == 5 and len(found.tags["i"][1]) == 5


def test_a_forked_process_reads_big_pages_at_once_too(
    client: TrackingClient, postgres_uri: str, monkeypatch: pytest.MonkeyPatch
):
    # The parent's worker threads do not survive a fork: the child must start its own.
    exp = _seed(client, 5)
    monkeypatch.setattr(sql_run_columns, "AT_ONCE_FROM", 1)
    assert len(client.store.search_run_columns([exp], max_results=100)[0]) == 5
    pid = os.fork()
    if pid == 0:  # the child: a fresh store (the parent's pooled sockets are not its own)
        code = 1
        try:
            forget_stores()
            found, _ = TrackingClient(postgres_uri).store.search_run_columns([exp])
            code = 0 if len(found.tags["i"][1]) == 5 else 1
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child's read never finished")
    assert os.waitstatus_to_exitcode(done[1]) == 0


def test_as_many_big_reads_at_once_as_the_reader_pool_holds_all_finish(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
):
    # Every reader connection held by a big read: the worker threads must not need one.
    exp = _seed(client, 5)
    reader = client.store.reader
    callers = reader.pool.size() + reader.pool._max_overflow
    all_in = threading.Barrier(callers, timeout=20)

    def holding(conn: Any, sql: str, params: Any) -> list:
        if not threading.current_thread().name.startswith("nt-pg-values"):
            all_in.wait()  # each caller holds its reader connection here
        return driver_rows(conn, sql, params)

    monkeypatch.setattr(pg_key_values, "driver_rows", holding)
    monkeypatch.setattr(sql_run_columns, "AT_ONCE_FROM", 1)

    def read(_: int) -> int:
        found, _ = client.store.search_run_columns([exp], max_results=100)
        return len(found.tags["i"][1])

    with ThreadPoolExecutor(callers) as pool:
        assert list(pool.map(read, range(callers))) == [5] * callers
