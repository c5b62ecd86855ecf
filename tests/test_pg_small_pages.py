"""A small PostgreSQL search page reads its runs' values in its own statement
(page_values.py), and a repeated first page runs prepared with its values quoted in
(pg_reads.kept_rows): the frames must be the ones the Run objects give, whatever the values,
keys and order; values quoted into SQL must stay values; what is logged between two searches
is seen; a connection's prepared statements stay bounded and may vanish."""

from __future__ import annotations

import math
from typing import Any

import psycopg2
import pytest
from sqlalchemy import text

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.frames import columns_to_frame, runs_to_frame
from notebook_tracker.run_columns import RunColumns
from notebook_tracker.store import forget_stores, packed_reads, pg_reads

pytestmark = pytest.mark.postgres

DOUBLES = [0.1, 1 / 3, 5e-324, 2.225073858507201e-308, 1.7976931348623157e308, -2.5, 1e22]
DOUBLES += [math.inf, -math.inf, math.nan, 2.0**53 + 2, 123456789.00000001]
TEXTS = ["", "it's", 'say "hi"', "back\\slash", "%(ids)s", "100%", "{a,b}", "NULL", "é 名"]
TEXTS += ["line\nbreak", "\\N", "x' OR '1'='1"]


@pytest.fixture
def store_uri(postgres_uri: str) -> str:
    """PostgreSQL only: `client` (tests/conftest.py) is a client of it."""
    return postgres_uri


def _awkward(client: TrackingClient) -> str:
    """Runs whose key sets differ (some have none at all), with every kind of double and text,
    one name as a param, a metric and a tag at once, and a tag without a value."""
    exp = client.create_experiment("small pages")
    for i in range(40):
        rid = client.create_run(exp, start_time=None if i % 9 == 4 else 1000 + i).info.run_id
        if i % 11 == 3:
            continue  # no values at all
        metrics = [Metric("m", DOUBLES[i % len(DOUBLES)], 1, 0)]
        if i % 3:
            metrics.append(Metric(f"only-{i % 4}", i / 7, 1, 0))
        params = [Param("x", TEXTS[i % len(TEXTS)]), Param("ключ é", str(i % 2))]
        tags = [RunTag("x", TEXTS[(i + 5) % len(TEXTS)])]
        if i % 5 == 0:
            tags.append(RunTag("none", "to be NULL"))
        client.store.log_batch(rid, metrics, params if i % 4 else params[:1], tags)
    with client.store.writer.begin() as conn:
        conn.execute(text("UPDATE tags SET value = NULL WHERE key = 'none'"))
    return exp


def _frames(client: TrackingClient, exp: str, size: int, **search: Any) -> tuple[Any, Any]:
    """(the page-by-page frame of search_run_columns, the frame of the same runs' objects)."""
    pages, runs, token = [], [], None
    while True:
        found, token = client.store.search_run_columns(
            [exp], max_results=size, page_token=token, **search
        )
        pages.append(found)
        if not token:
            break
    token = None
    while True:
        page = client.store.search_runs([exp], max_results=size, page_token=token, **search)
        runs += list(page)
        token = page.token
        if not token:
            break
    return columns_to_frame(RunColumns.concat(pages)), runs_to_frame(runs)


def _same(got: Any, want: Any) -> None:
    assert list(got.columns) == list(want.columns)
    for column in got.columns:  # repr: the bits of each double, NaN and None apart
        assert repr(got[column].tolist()) == repr(want[column].tolist()), column
        assert got[column].dtype == want[column].dtype, column


def _pack(client: TrackingClient, exp: str, how: str) -> None:
    """Pack no run, every run, or every run and then change some (listed stale)."""
    if how == "none":
        return
    client.store.pack_runs()
    if how == "some stale":
        runs = client.store.search_runs([exp], max_results=100)
        for run in list(runs)[::3]:
            client.store.log_batch(
                run.info.run_id, [Metric("m", -0.0, 5, 0)], [], [RunTag("x", "changed\x1f")]
            )


SEARCHES = [
    {},
    {"order_by": ["metrics.m DESC"]},
    {"order_by": ["metrics.m"], "filter_string": "params.x != 'NULL'"},
    {"order_by": ["params.x DESC", "tags.x"]},
    {"order_by": ["attributes.start_time ASC"], "filter_string": "metrics.m > -3"},
]


@pytest.mark.parametrize("packed", ["none", "all", "some stale"])
@pytest.mark.parametrize("search", SEARCHES)
def test_small_pages_give_the_frame_of_the_runs_first_and_repeated(
    client: TrackingClient, search: dict[str, Any], packed: str
):
    exp = _awkward(client)
    _pack(client, exp, packed)
    for size in (7, 100):
        for _ in range(3):  # through SQLAlchemy, prepared and run, then run as prepared
            got, want = _frames(client, exp, size, **search)
            assert len(got) > 0
            _same(got, want)


def test_values_quoted_into_a_prepared_page_stay_values(client: TrackingClient):
    exp = client.create_experiment("quoting")
    ids = {}
    for value in TEXTS:
        rid = client.create_run(exp).info.run_id
        client.store.log_batch(rid, [], [Param("p", value)], [])
        ids[value] = rid
    for value in TEXTS:
        quoted = value.replace("'", "''")  # the filter grammar's own quoting
        for _ in range(3):  # the third runs the prepared text
            found, _ = client.store.search_run_columns(
                [exp], f"params.p = '{quoted}'", max_results=10
            )
            assert [row[0] for row in found.info] == [ids[value]], value


def _set_for_new_sessions(postgres_uri: str, setting: str) -> None:
    """`ALTER DATABASE ... SET setting` on the test's database: sessions opened after take it."""
    admin = psycopg2.connect(postgres_uri)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT current_database()")
        (name,) = cur.fetchone()
        cur.execute(f'ALTER DATABASE "{name}" SET {setting}')
    admin.close()


def test_values_stay_values_on_a_server_without_standard_conforming_strings(
    client: TrackingClient, postgres_uri: str
):
    # Backslashes in quoted text mean escapes there: the connection's own quoting must be used.
    _set_for_new_sessions(postgres_uri, "standard_conforming_strings = off")
    client.store.reader.dispose()  # new sessions take the setting
    test_values_quoted_into_a_prepared_page_stay_values(client)
    with client.store.reader.connect() as conn:
        assert conn.execute(text("SHOW standard_conforming_strings")).scalar() == "off"


def test_a_repeated_small_page_sees_what_was_logged_changed_and_deleted_since(
    client: TrackingClient,
):
    exp = client.create_experiment("since")
    rids = [client.create_run(exp, start_time=1000 + i).info.run_id for i in range(5)]
    for rid in rids:
        client.store.log_batch(rid, [Metric("acc", 0.5, 1, 0)], [Param("lr", "1")], [])

    def frame() -> Any:
        found, _ = client.store.search_run_columns([exp], "metrics.acc > 0.1", max_results=3)
        return columns_to_frame(found)

    for _ in range(3):
        assert list(frame()["run_id"]) == rids[::-1][:3]
    client.store.log_batch(rids[4], [Metric("acc", 0.9, 2, 0)], [], [RunTag("new", "t")])
    client.delete_run(rids[3])
    got = frame()
    assert list(got["run_id"]) == [rids[4], rids[2], rids[1]]
    assert got["metrics.acc"].tolist() == [0.9, 0.5, 0.5]
    assert got["tags.new"][0] == "t" and got["tags.new"][1:].isna().all()


def test_a_connection_keeps_a_bounded_number_of_prepared_pages(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(pg_reads, "MAX_PREPARED", 3)
    exp = client.create_experiment("bounded")
    rids = [client.create_run(exp, start_time=1000 + i).info.run_id for i in range(8)]
    for i, rid in enumerate(rids):
        client.store.log_batch(rid, [], [Param("i", str(i))], [])
    for _ in range(3):
        for i in range(8):
            found, _ = client.store.search_run_columns([exp], f"params.i = '{i}'", max_results=5)
            assert [row[0] for row in found.info] == [rids[i]]
    with client.store.reader.connect() as conn:
        kept = conn.execute(
            text("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'nt_kept_%'")
        ).scalar()
    assert kept == 3


def test_a_prepared_page_dropped_behind_the_stores_back_is_read_again(client: TrackingClient):
    # A pooler or an admin may DEALLOCATE ALL: the page is read its usual way, not failed.
    exp = client.create_experiment("dropped")
    rid = client.create_run(exp).info.run_id
    client.store.log_batch(rid, [Metric("acc", 0.25, 1, 0)], [], [])
    for _ in range(3):
        found, _ = client.store.search_run_columns([exp], max_results=5)
    with client.store.reader.connect() as conn:
        conn.execute(text("DEALLOCATE ALL"))
    for _ in range(3):
        found, _ = client.store.search_run_columns([exp], max_results=5)
        assert [row[0] for row in found.info] == [rid]
        assert found.metrics["acc"][1].tolist() == [0.25]


def test_small_pages_prepare_nothing_when_told_not_to(
    postgres_uri: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("NOTEBOOK_TRACKER_POSTGRES_NO_PREPARE", "1")
    forget_stores()
    client = TrackingClient(postgres_uri)
    exp = client.create_experiment("no prepare")
    rid = client.create_run(exp).info.run_id
    client.store.log_batch(rid, [], [Param("p", "it's")], [])
    for _ in range(4):
        found, _ = client.store.search_run_columns([exp], "params.p = 'it''s'", max_results=5)
        assert [row[0] for row in found.info] == [rid]
    with client.store.reader.connect() as conn:
        names = conn.execute(text("SELECT name FROM pg_prepared_statements")).scalars().all()
    forget_stores()
    assert names == []


def test_packed_values_read_back_exactly_from_a_server_set_to_print_fewer_digits(
    postgres_uri: str, monkeypatch: pytest.MonkeyPatch
):
    # The packer reads metrics on the writer's session: at the server's 15 digits,
    # 1.7976931348623157e308 was packed as inf.
    _set_for_new_sessions(postgres_uri, "extra_float_digits = 0")
    forget_stores()
    client = TrackingClient(postgres_uri)
    try:
        exp = client.create_experiment("digits")
        for i, value in enumerate(DOUBLES):
            rid = client.create_run(exp, start_time=1000 + i).info.run_id
            client.store.log_batch(rid, [Metric("m", value, 1, 0)], [], [])
        assert client.store.pack_runs() == len(DOUBLES)
        want = [v.hex() for v in reversed(DOUBLES)]
        found, _ = client.store.search_run_columns([exp], max_results=100)
        assert [v.hex() for v in columns_to_frame(found)["metrics.m"]] == want
        monkeypatch.setattr(packed_reads, "PACKED_FROM", 1)  # a big page's read of the texts
        found, _ = client.store.search_run_columns([exp], max_results=2000)
        assert [v.hex() for v in columns_to_frame(found)["metrics.m"]] == want
    finally:
        forget_stores()
