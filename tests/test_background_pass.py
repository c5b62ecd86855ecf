"""Background passes a read asks for (store/background_pass.py): one at a time per store and
kind, at most one start per interval, and a failing pass never reaches the read."""

from __future__ import annotations

import threading

from notebook_tracker.store.background_pass import BackgroundPass


def test_a_second_ask_while_a_pass_runs_starts_nothing() -> None:
    release = threading.Event()
    runs: list[int] = []

    def work() -> None:
        runs.append(1)
        release.wait(10)

    background = BackgroundPass("test-pass", interval_s=0.0)
    background.start(work)
    background.start(work)
    assert background.running()
    release.set()
    background.wait(10)
    assert runs == [1]
    assert not background.running()


def test_asks_within_the_interval_start_one_pass_and_after_it_another() -> None:
    runs: list[int] = []
    background = BackgroundPass("test-pass", interval_s=3600.0)
    background.start(lambda: runs.append(1))
    background.wait(10)
    background.start(lambda: runs.append(2))
    background.wait(10)
    assert runs == [1]

    background.interval_s = 0.0
    background.start(lambda: runs.append(3))
    background.wait(10)
    assert runs == [1, 3]


def test_a_pass_run_directly_restarts_the_interval() -> None:
    runs: list[int] = []
    background = BackgroundPass("test-pass", interval_s=3600.0)
    background.ran_now()
    background.start(lambda: runs.append(1))
    background.wait(10)
    assert runs == []


def test_a_failing_pass_is_contained_and_the_next_one_runs() -> None:
    runs: list[int] = []

    def broken() -> None:
        raise OSError("database is read-only")

    background = BackgroundPass("test-pass", interval_s=0.0)
    background.start(broken)  # raises nowhere: the reading caller never sees it
    background.wait(10)
    background.start(lambda: runs.append(1))
    background.wait(10)
    assert runs == [1]
