"""The same search asked again (a notebook re-run, the sidebar's refresh) reuses its built
statements (run_pages.py keeps a first page's), but never its rows: what is logged in between
is seen, and searches differing in page size, columns, order or filter each get their own."""

from __future__ import annotations

import notebook_tracker as nt
from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric, Param

FILTER = "metrics.acc > 0.5 and params.lr = '0.01'"
ORDER = ["metrics.acc DESC"]


def _log(client: TrackingClient, exp: str, acc: float, lr: str, start: int) -> str:
    rid = client.create_run(exp, start_time=start).info.run_id
    client.store.log_batch(rid, [Metric("acc", acc, 1, 0)], [Param("lr", lr)], [])
    return rid


def _ids(exp: str, filter_string: str, order: list[str] | None, n: int) -> list[str]:
    frame = nt.search_runs([exp], filter_string, order_by=order, max_results=n)
    return list(frame["run_id"])


def test_a_repeated_search_sees_runs_logged_since_the_last_one(client: TrackingClient) -> None:
    exp = client.create_experiment("repeat")
    first = [_log(client, exp, 0.6 + i / 100, "0.01", 1000 + i) for i in range(3)]
    assert _ids(exp, FILTER, ORDER, 100) == first[::-1]
    best = _log(client, exp, 0.99, "0.01", 2000)
    _log(client, exp, 0.999, "0.1", 2001)  # another lr: filtered out
    assert _ids(exp, FILTER, ORDER, 100) == [best, *first[::-1]]
    client.delete_run(best)
    assert _ids(exp, FILTER, ORDER, 100) == first[::-1]


def test_searches_differing_in_size_order_or_filter_each_get_their_own_rows(
    client: TrackingClient,
) -> None:
    exp = client.create_experiment("variants")
    runs = [_log(client, exp, i / 10, "0.01" if i % 2 else "0.1", 1000 + i) for i in range(10)]
    by_acc = runs[::-1]
    for _ in range(2):  # the second pass is served by the kept statements
        assert _ids(exp, "", ORDER, 3) == by_acc[:3]
        assert _ids(exp, "", ORDER, 5) == by_acc[:5]
        assert _ids(exp, "", ["metrics.acc ASC"], 4) == runs[:4]
        assert _ids(exp, FILTER, ORDER, 100) == [r for r in by_acc if runs.index(r) in (9, 7)]
        assert _ids(exp, "", None, 2) == by_acc[:2]  # start_time DESC
        listed = client.search_runs([exp], "", order_by=ORDER, max_results=3)
        assert [r.info.run_id for r in listed] == by_acc[:3]


def test_pages_after_a_repeated_first_page_continue_where_it_ended(
    client: TrackingClient,
) -> None:
    exp = client.create_experiment("pages")
    runs = [_log(client, exp, i / 10, "0.01", 1000 + i) for i in range(7)]
    for _ in range(2):
        ids, token = [], None
        while True:
            page = client.search_runs([exp], "", order_by=ORDER, max_results=3, page_token=token)
            ids += [r.info.run_id for r in page]
            token = page.token
            if not token:
                break
        assert ids == runs[::-1]
