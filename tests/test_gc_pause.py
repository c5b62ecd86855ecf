"""A big read pauses Python's garbage collector and always gives it back as it found it."""

from __future__ import annotations

import gc

import pytest

from notebook_tracker.gc_pause import PAUSE_FROM, gc_paused


def test_a_big_read_pauses_the_collector_and_turns_it_back_on_even_after_an_error() -> None:
    assert gc.isenabled()
    with gc_paused(PAUSE_FROM):
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused(PAUSE_FROM):
        raise RuntimeError("the read failed")
    assert gc.isenabled()


def test_a_small_read_leaves_the_collector_alone() -> None:
    with gc_paused(PAUSE_FROM - 1):
        assert gc.isenabled()


def test_a_collector_the_user_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with gc_paused(PAUSE_FROM):
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
