"""A server answers a synchronous call from inside the store, the moment its write commits
(store/commit_notice.py): the notice must fire only then, once, and only on the thread that
armed it, or a client would be told "written" for a write that was not, or was another's."""

from __future__ import annotations

import threading

import pytest

from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.errors import TrackerError
from notebook_tracker.store import commit_notice
from notebook_tracker.store.sql import SqlStore


@pytest.fixture
def store(tmp_path) -> SqlStore:
    return SqlStore(f"sqlite:///{tmp_path / 'tracker.db'}")


@pytest.fixture
def fired():
    calls: list[str] = []
    yield calls
    commit_notice.arm(None)


def _run(store: SqlStore) -> str:
    return store.create_run("0", "u", 1).info.run_id


def test_a_notice_fires_once_at_the_first_commit_on_its_thread(store, fired):
    run_id = _run(store)
    commit_notice.arm(lambda: fired.append(store.get_run(run_id).data.tags.get("t", "")))
    store.log_params_tags(run_id, tags=[RunTag("t", "one")])
    store.log_params_tags(run_id, tags=[RunTag("t", "two")])
    assert fired == ["one"]  # at the first commit, with its write visible; not again


def test_a_lone_point_fires_the_notice_once_it_is_committed(store, fired):
    run_id = _run(store)
    commit_notice.arm(lambda: fired.append(str(store.get_run(run_id).data.metrics.get("m"))))
    store.log_metric_groups([(run_id, "m", 2.5, 7, 3)])
    assert fired == ["2.5"]
    assert [(m.value, m.step) for m in store.get_metric_history(run_id, "m")] == [(2.5, 3)]


REFUSED = {
    "tag-to-deleted-run": lambda store, run_id: store.log_params_tags(
        run_id, tags=[RunTag("t", "x")]
    ),
    "changed-param": lambda store, run_id: store.log_params_tags(run_id, params=[Param("p", "2")]),
    "point-to-deleted-run": lambda store, run_id: store.log_metric_groups(
        [(run_id, "m", 1.0, 1, 0)]
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_write_that_is_refused_never_fires_the_notice(store, fired, case):
    run_id = _run(store)
    store.log_batch(run_id, params=[Param("p", "1")])
    if "deleted" in case:
        store.delete_run(run_id)
    commit_notice.arm(lambda: fired.append("told"))
    with pytest.raises(TrackerError):
        REFUSED[case](store, run_id)
    assert fired == []


def test_a_write_on_another_thread_never_fires_this_threads_notice(store, fired):
    run_id = _run(store)
    commit_notice.arm(lambda: fired.append(threading.current_thread().name))
    other = threading.Thread(
        target=store.log_params_tags, args=(run_id, (), [RunTag("t", "x")]), name="other"
    )
    other.start()
    other.join()
    store.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)])  # a SQLAlchemy commit: not one
    assert fired == []
    store.log_params_tags(run_id, tags=[RunTag("t", "y")])
    assert fired == ["MainThread"]


def test_a_disarmed_notice_never_fires(store, fired):
    run_id = _run(store)
    commit_notice.arm(lambda: fired.append("told"))
    commit_notice.arm(None)
    store.log_params_tags(run_id, tags=[RunTag("t", "x")])
    assert fired == []
