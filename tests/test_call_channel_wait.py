"""A call channel waits for a lone client's next frame by polling for a moment
(server/call_channel.py, socket_wait.py), and only when nothing else could want the loop."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from pathlib import Path

import pytest

from notebook_tracker.server import call_channel
from notebook_tracker.server.mlflow_api import sync_calls
from notebook_tracker.server.standalone import make_context, make_http_server
from notebook_tracker.wire.call_frames import request_frame


class _Transport(asyncio.Transport):
    """Answers collected, over a real socket the channel can poll."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.answers: list[bytes] = []

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.sock if name == "socket" else default

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.answers.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@pytest.fixture
def budget(monkeypatch):
    """A 50 ms budget, two CPUs, and a fresh read of the budget."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setenv("NOTEBOOK_TRACKER_SPIN_WAIT_US", "50000")
    call_channel._next_frame_s.cache_clear()
    monkeypatch.setattr(sync_calls, "_in_flight", 0)
    yield 0.05
    call_channel._next_frame_s.cache_clear()


async def _channel(tmp_path: Path) -> tuple[call_channel.Channel, _Transport, socket.socket, str]:
    context = make_context(f"sqlite:///{tmp_path}/s.db", str(tmp_path / "art"))
    calls = make_http_server(context).request_callback
    calls.tracks_connections = False  # as inside Jupyter: no lone-client rule to satisfy
    store = context.store
    experiment = store.create_experiment("x")
    run_id = store.create_run(experiment, "u", 0, [], "r").info.run_id
    ours, client = socket.socketpair()
    transport = _Transport(ours)
    channel = call_channel.Channel(calls, "127.0.0.1", object())
    channel.connection_made(transport)
    return channel, transport, client, run_id


async def _answer(channel: call_channel.Channel, run_id: str, value: str) -> None:
    body = json.dumps({"run_id": run_id, "tags": [{"key": "t", "value": value}]}).encode()
    channel.data_received(request_frame("runs/log-batch", body))
    while channel.busy:
        await asyncio.sleep(0.001)


def test_after_an_answer_the_channel_polls_for_the_next_frame_then_stops_when_none_comes(
    tmp_path, budget
):
    async def scenario() -> None:
        channel, transport, client, run_id = await _channel(tmp_path)
        assert channel.next_frame is not None and channel.next_frame.polling
        started = time.perf_counter()
        await _answer(channel, run_id, "1")
        took = time.perf_counter() - started
        assert transport.answers and transport.answers[-1].endswith(b"{}")
        assert channel.answered_at > 0  # it waited for a next frame
        assert budget <= took < 10  # the whole budget: nothing came
        assert not channel.next_frame.polling  # so the next answer does not poll

        started = time.perf_counter()
        await _answer(channel, run_id, "2")  # answered without polling
        assert time.perf_counter() - started < budget
        assert not channel.next_frame.polling
        client.sendall(b"x")  # the client's next bytes, already there for the poll to find
        await _answer(channel, run_id, "3")  # came within the budget of that answer...
        assert channel.next_frame.polling  # ...so the wait after it polled, and found them
        client.close()

    asyncio.run(scenario())


def test_a_frame_arriving_during_the_poll_ends_it_at_once(tmp_path, budget):
    async def scenario() -> None:
        channel, transport, client, run_id = await _channel(tmp_path)
        client.sendall(b"x")  # readable: the poll after the answer returns at once
        started = time.perf_counter()
        await _answer(channel, run_id, "1")
        assert time.perf_counter() - started < budget
        assert channel.next_frame is not None and channel.next_frame.polling
        client.close()

    asyncio.run(scenario())


def test_no_poll_while_another_request_is_in_flight_or_bytes_wait(tmp_path, budget, monkeypatch):
    async def scenario() -> None:
        channel, transport, client, run_id = await _channel(tmp_path)
        with sync_calls.InFlight():  # another request of this worker
            started = time.perf_counter()
            await _answer(channel, run_id, "1")
            assert time.perf_counter() - started < budget
        assert channel.answered_at == 0.0
        channel.calls.tracks_connections = True  # a standalone worker...
        monkeypatch.setattr(sync_calls, "_tracked", True)
        monkeypatch.setattr(sync_calls, "_last_connection", 0)  # restored after the test
        other_seen = time.monotonic() - 0.01  # ...that read another connection's request
        monkeypatch.setattr(sync_calls, "_shared_until", other_seen + sync_calls.BACKOFF_S)
        started = time.perf_counter()
        await _answer(channel, run_id, "2")
        assert time.perf_counter() - started < budget
        assert channel.answered_at == 0.0
        # QUIET_S later, with only this connection's frames read meanwhile, it polls again.
        other_seen = time.monotonic() - call_channel.QUIET_S
        monkeypatch.setattr(sync_calls, "_shared_until", other_seen + sync_calls.BACKOFF_S)
        started = time.perf_counter()
        await _answer(channel, run_id, "3")
        assert time.perf_counter() - started >= budget  # it waited for a frame that never came
        assert channel.answered_at > 0
        client.close()

    asyncio.run(scenario())


def test_zero_turns_the_poll_off_and_a_bad_value_is_logged_once_and_ignored(
    tmp_path, budget, monkeypatch, caplog
):
    async def scenario(value: str) -> call_channel.Channel:
        monkeypatch.setenv("NOTEBOOK_TRACKER_SPIN_WAIT_US", value)
        call_channel._next_frame_s.cache_clear()
        channel, transport, client, run_id = await _channel(tmp_path / value)
        await _answer(channel, run_id, "1")
        assert transport.answers[-1].endswith(b"{}")
        client.close()
        return channel

    for value in ("0", "soon"):
        (tmp_path / value).mkdir()
        with caplog.at_level(logging.WARNING):
            channel = asyncio.run(scenario(value))
        assert channel.next_frame is None and channel.answered_at == 0.0
    warnings = [r.getMessage() for r in caplog.records if "SPIN_WAIT_US" in r.getMessage()]
    assert len(warnings) == 1 and "must be a whole number of microseconds" in warnings[0]
