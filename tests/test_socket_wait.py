"""How a call channel waits for its answers (socket_wait.py): polling for a quick answer,
sleeping for a slow one, and never polling where it cannot pay."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from notebook_tracker import socket_wait
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.socket_wait import SocketWait, spin_budget_s


def _answer_after(sock: socket.socket, delay_s: float) -> threading.Thread:
    def answer() -> None:
        time.sleep(delay_s)
        sock.sendall(b"answer")

    thread = threading.Thread(target=answer)
    thread.start()
    return thread


@pytest.fixture
def pair():
    ours, server = socket.socketpair()
    yield ours, server
    ours.close()
    server.close()


def test_a_quick_answer_is_polled_for_until_it_is_there_and_polling_goes_on(pair):
    ours, server = pair
    wait = SocketWait(ours, 0.5)
    for _ in range(3):
        thread = _answer_after(server, 0.01)
        began = wait.until_readable()
        assert ours.recv(64, socket.MSG_DONTWAIT) == b"answer"  # there when the poll ended
        wait.arrived(began)
        thread.join()
        assert wait.polling


def test_an_answer_slower_than_the_budget_stops_polling_until_one_comes_quickly_again(pair):
    ours, server = pair
    wait = SocketWait(ours, 0.005)
    thread = _answer_after(server, 0.05)
    began = wait.until_readable()
    assert time.perf_counter() - began < 0.04  # gave up polling after its budget
    assert not wait.polling
    assert ours.recv(64) == b"answer"  # the read sleeps for the rest
    wait.arrived(began)
    thread.join()
    assert not wait.polling  # that answer was slow: the next wait sleeps at once

    thread = _answer_after(server, 0.02)
    began = wait.until_readable()
    assert time.perf_counter() - began < 0.01  # no polling at all
    assert ours.recv(64) == b"answer"
    wait.arrived(began)
    thread.join()
    assert not wait.polling

    thread = _answer_after(server, 0.0)
    began = wait.until_readable()
    assert ours.recv(64) == b"answer"
    wait.arrived(began)
    thread.join()
    assert wait.polling  # an answer within the budget: polling again


def test_the_budget_is_set_by_the_environment_and_zero_turns_polling_off(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.delenv("NOTEBOOK_TRACKER_SPIN_WAIT_US", raising=False)
    assert spin_budget_s(socket_wait.ANSWER_US) == socket_wait.ANSWER_US / 1e6
    monkeypatch.setenv("NOTEBOOK_TRACKER_SPIN_WAIT_US", "250")
    assert spin_budget_s(socket_wait.ANSWER_US) == 0.00025
    monkeypatch.setenv("NOTEBOOK_TRACKER_SPIN_WAIT_US", "0")
    assert spin_budget_s(socket_wait.ANSWER_US) == 0.0
    for bad in ("-1", "fast", "1.5"):
        monkeypatch.setenv("NOTEBOOK_TRACKER_SPIN_WAIT_US", bad)
        with pytest.raises(InvalidParameter, match="NOTEBOOK_TRACKER_SPIN_WAIT_US must be"):
            spin_budget_s(socket_wait.ANSWER_US)


def test_a_machine_with_one_cpu_never_polls(monkeypatch, pair):
    monkeypatch.delenv("NOTEBOOK_TRACKER_SPIN_WAIT_US", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert spin_budget_s(socket_wait.ANSWER_US) == 0.0
    wait = SocketWait(pair[0], spin_budget_s(socket_wait.ANSWER_US))
    assert not wait.polling


def test_no_more_threads_poll_at_once_than_the_process_has_cpus_but_one(monkeypatch):
    monkeypatch.setattr(socket_wait, "_max_pollers", 1)
    first, first_server = socket.socketpair()
    second, second_server = socket.socketpair()
    try:
        polling = SocketWait(first, 5.0)
        thread = threading.Thread(target=polling.until_readable)
        thread.start()
        deadline = time.monotonic() + 5
        while socket_wait._pollers == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert socket_wait._pollers == 1
        began = SocketWait(second, 5.0).until_readable()
        assert time.perf_counter() - began < 1.0  # returned at once, to sleep in its read
        first_server.sendall(b"answer")
        thread.join()
        assert socket_wait._pollers == 0
    finally:
        for sock in (first, first_server, second, second_server):
            sock.close()
