"""A small SQLite search page reads its runs' packed texts with its rows and only the runs
without one from the tables (page_values.py): the frames must be the ones the Run objects give,
packed or not, and a run changed since it was packed must show its new values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_pg_small_pages import SEARCHES, _awkward, _frames, _pack, _same

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric, RunTag
from notebook_tracker.frames import columns_to_frame


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    """SQLite only: `client` (tests/conftest.py) is a client of it."""
    return f"sqlite:///{tmp_path / 'tracker.db'}"


@pytest.mark.parametrize("packed", ["none", "all", "some stale"])
@pytest.mark.parametrize("search", SEARCHES)
def test_small_sqlite_pages_give_the_frame_of_the_runs(
    client: TrackingClient, search: dict[str, Any], packed: str
):
    exp = _awkward(client)
    _pack(client, exp, packed)
    for size in (7, 100):
        for _ in range(2):
            got, want = _frames(client, exp, size, **search)
            assert len(got) > 0
            _same(got, want)


def test_a_small_sqlite_page_shows_a_packed_runs_new_values(client: TrackingClient):
    exp = client.create_experiment("changed")
    rid = client.create_run(exp).info.run_id
    client.store.log_batch(rid, [Metric("acc", 0.5, 1, 0)], [], [RunTag("t", "a")])
    assert client.store.pack_runs() == 1
    client.store.log_batch(rid, [Metric("acc", 0.75, 2, 0)], [], [RunTag("t", "b")])
    found, _ = client.store.search_run_columns([exp], max_results=10)
    frame = columns_to_frame(found)
    assert frame["metrics.acc"].tolist() == [0.75] and frame["tags.t"].tolist() == ["b"]
