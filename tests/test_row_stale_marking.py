"""PostgreSQL marks a packed run stale from row-level triggers (migration 0012): a run being
logged to (unsettled rows) is never packed, so its new values fire no trigger; the first
write to a settled, packed run lists it stale, and a big read shows every value written, even
one committed while the packer held the run."""

from __future__ import annotations

import time
from typing import Any

import pytest
from helpers import downgrade_store, pack_while_a_writer_commits
from sqlalchemy import text

from notebook_tracker.client import TrackingClient
from notebook_tracker.frames import columns_to_frame
from notebook_tracker.store import forget_stores, run_packer
from notebook_tracker.store.packed_reads import PACKED_FROM
from notebook_tracker.store.schema import HEAD_REVISION
from notebook_tracker.store.schema_version import upgrade

pytestmark = pytest.mark.postgres


@pytest.fixture
def client(postgres_uri: str):
    yield TrackingClient(postgres_uri)
    forget_stores()


def _runs(client: TrackingClient, n: int) -> tuple[str, list[str]]:
    exp = client.create_experiment("stale")
    return exp, [client.create_run(exp, start_time=1000 + i).info.run_id for i in range(n)]


def _log(client: TrackingClient, run_id: str, value: float, step: int) -> None:
    """A server's group write of 20 keys (now: not idle, so left unsettled)."""
    stamp = int(time.time() * 1000)
    client.store.log_metric_groups(  # type: ignore[attr-defined]
        [(run_id, f"m{k}", value + k, stamp, step) for k in range(20)]
    )


def _state(client: TrackingClient) -> tuple[set[str], list[str]]:
    """(packed runs, runs listed stale)."""
    with client.store.writer.connect() as conn:  # type: ignore[attr-defined]
        packed = conn.execute(text("SELECT run_uuid FROM runs WHERE packed_values IS NOT NULL"))
        stale = conn.execute(text("SELECT run_uuid FROM stale_run_values ORDER BY id"))
        return {r[0] for r in packed}, [r[0] for r in stale]


def _big_read(client: TrackingClient, exp: str) -> Any:
    found, _ = client.search_run_columns([exp], "", "ALL", PACKED_FROM, ["start_time DESC"])
    return columns_to_frame(found).set_index("run_id")


def test_a_run_being_logged_to_is_packed_only_once_it_ends(client: TrackingClient):
    exp, (running, ended) = _runs(client, 2)
    for run_id in (running, ended):
        _log(client, run_id, 1.0, 0)
    client.set_terminated(ended)  # settles its rows
    client.store.pack_runs()  # type: ignore[attr-defined]
    assert _state(client) == ({ended}, [])
    client.set_terminated(running)
    client.store.pack_runs()  # type: ignore[attr-defined]
    assert _state(client) == ({running, ended}, [])
    assert _big_read(client, exp).loc[running, "metrics.m3"] == 4.0


def test_the_first_write_to_a_packed_run_lists_it_stale_once_and_reads_see_each_value(
    client: TrackingClient,
):
    exp, (run_id,) = _runs(client, 1)
    _log(client, run_id, 1.0, 0)
    client.set_terminated(run_id)
    client.store.pack_runs()  # type: ignore[attr-defined]
    assert _state(client) == ({run_id}, [])
    for step in range(1, 4):  # settled rows, then rows this write left unsettled
        _log(client, run_id, 10.0 * step, step)
        # A staged write's values reach latest_metrics when a read folds them: then listed.
        assert _big_read(client, exp).loc[run_id, "metrics.m2"] == 10.0 * step + 2
        assert _state(client)[1] == [run_id]
    client.log_metric(run_id, "new key", 7.0)  # an insert: listed once all the same
    assert _state(client)[1] == [run_id]
    assert _big_read(client, exp).loc[run_id, "metrics.new key"] == 7.0
    client.store.pack_runs()  # type: ignore[attr-defined]
    assert _state(client)[1] == [run_id]  # still being logged to: not packed again
    client.set_terminated(run_id)
    client.store.pack_runs()  # type: ignore[attr-defined]
    assert _state(client) == ({run_id}, [])
    assert _big_read(client, exp).loc[run_id, "metrics.m2"] == 32.0


def test_a_value_written_while_the_packer_holds_the_run_is_never_hidden(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
):
    exp, (run_id,) = _runs(client, 1)
    _log(client, run_id, 1.0, 0)
    client.set_terminated(run_id)
    # The writer's trigger waits for the batch's lock on the run, until it commits.
    assert pack_while_a_writer_commits(client, monkeypatch, lambda: _log(client, run_id, 50.0, 1))
    # Listed stale once a read folds the staged write's values into latest_metrics.
    assert _big_read(client, exp).loc[run_id, "metrics.m0"] == 50.0
    assert _state(client) == ({run_id}, [run_id])
    _log(client, run_id, 60.0, 2)  # an unsettled row now: no trigger, still read right
    assert _big_read(client, exp).loc[run_id, "metrics.m0"] == 60.0


def test_an_upgrade_lists_the_packed_runs_being_logged_to_stale(client: TrackingClient):
    exp, (running, ended) = _runs(client, 2)
    for run_id in (running, ended):
        _log(client, run_id, 1.0, 0)
    client.set_terminated(ended)
    engine = client.store.writer  # type: ignore[attr-defined]
    downgrade_store(engine, "0011_heap_only_latest_metrics")
    with engine.begin() as conn:  # as 0011's packer did: any run, being logged to or not
        for run_id, packed in run_packer._packed(conn, [running, ended]).items():
            conn.execute(
                text("UPDATE runs SET packed_values = :p WHERE run_uuid = :r"),
                {"p": packed, "r": run_id},
            )
    assert _state(client) == ({running, ended}, [])
    upgrade(engine, HEAD_REVISION)
    assert _state(client) == ({running, ended}, [running])
    _log(client, running, 9.0, 1)  # an unsettled row: the listing keeps the read right
    assert _big_read(client, exp).loc[running, "metrics.m1"] == 10.0
