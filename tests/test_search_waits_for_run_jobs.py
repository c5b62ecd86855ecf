"""A client search sees what a run's background work (an autologged model, a deferred run end)
writes, whatever form the results take: Run objects or a DataFrame's columns."""

from __future__ import annotations

import threading

from notebook_tracker import run_jobs
from notebook_tracker.client import TrackingClient


def _tag(client: TrackingClient, search: str) -> object:
    """The run's `written_in_background` tag as `search` returns it (None when absent)."""
    if search == "search_runs":
        return client.search_runs(["0"])[0].data.tags.get("written_in_background")
    columns, _ = client.search_run_columns(["0"])
    found = columns.tags.get("written_in_background")
    return None if found is None else found[1][0]


def test_a_columns_search_waits_for_background_work_as_a_runs_search_does(tracking_uri) -> None:  # type: ignore[no-untyped-def]
    client = TrackingClient(tracking_uri)
    run_id = client.create_run("0").info.run_id
    _tag(client, "search_run_columns")  # imports and connections made before the timed part
    release = threading.Event()

    def job() -> None:
        release.wait(60)
        client.set_tag(run_id, "written_in_background", "yes")

    for search in ("search_run_columns", "search_runs"):
        run_jobs.submit(run_id, job)
        # Released well after a search that does not wait would have returned.
        timer = threading.Timer(1.0, release.set)
        timer.start()
        try:
            seen = _tag(client, search)
        finally:
            release.set()
            timer.cancel()
            run_jobs.wait_all()
        release.clear()
        assert seen == "yes", f"{search} did not wait for the run's background work"
        client.delete_tag(run_id, "written_in_background")
