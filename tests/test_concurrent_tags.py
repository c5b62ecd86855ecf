"""Two writers setting the same tag of a run at once both succeed, and the later one's value
is what the run keeps (PostgreSQL runs writers side by side; SQLite one after another)."""

from __future__ import annotations

import threading
import time

import pytest

from notebook_tracker.client import TrackingClient


@pytest.mark.postgres
def test_a_tag_set_while_another_writer_sets_it_is_not_refused(postgres_uri: str) -> None:
    from notebook_tracker.entities import RunTag
    from notebook_tracker.store.sql import SqlStore

    client = TrackingClient(postgres_uri)
    run_id = client.create_run(client.create_experiment("tags")).info.run_id
    store = client.store
    assert isinstance(store, SqlStore)
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            TrackingClient(postgres_uri).set_tag(run_id, "stage", "second")
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)

    with store.writer.begin() as first:
        store._upsert_tags(first, run_id, [RunTag("stage", "first")])
        other = threading.Thread(target=second_writer)
        other.start()
        time.sleep(0.5)  # the second writer reaches the same key while the first is open
    other.join(30)
    assert not other.is_alive()
    assert errors == []
    assert client.get_run(run_id).data.tags["stage"] == "second"


def test_setting_a_tag_again_replaces_its_value(client: TrackingClient) -> None:
    run_id = client.create_run(client.create_experiment("tags")).info.run_id
    client.set_tag(run_id, "stage", "a")
    client.set_tag(run_id, "stage", "b")
    client.log_batch(run_id, tags=[])
    assert client.get_run(run_id).data.tags["stage"] == "b"
