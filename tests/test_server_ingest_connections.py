"""The REST client's connections: kept alive across calls, one per thread, never shared by a
fork, re-opened when the server dropped an idle one."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from notebook_tracker.store.rest_transport import Transport


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the tracking server speaks
    seen: list[tuple[int, int]] = []  # (client port, pid header) per request
    close_next = False  # say "Connection: close" on the next reply
    drop_next = False  # close the next reply's connection without a word (an idle timeout)

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        type(self).seen.append((self.client_address[1], int(self.headers.get("X-Pid", "0"))))
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if type(self).close_next:
            type(self).close_next = False
            self.send_header("Connection", "close")
            self.close_connection = True
        if type(self).drop_next:
            type(self).drop_next = False
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _post(transport: Transport) -> None:
    headers = {"Content-Type": "application/json", "X-Pid": str(os.getpid())}
    reply = transport.request("POST", "api/x", data=b"{}", headers=headers)
    assert reply.json() == {"ok": True}


def test_calls_from_one_thread_reuse_one_connection(recorder):
    transport = Transport(recorder)
    for _ in range(20):
        _post(transport)
    assert len({port for port, _ in _Recorder.seen}) == 1


def test_each_thread_has_its_own_connection(recorder):
    transport = Transport(recorder)
    threads = [
        threading.Thread(target=lambda: [_post(transport) for _ in range(5)]) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(_Recorder.seen) == 20
    assert len({port for port, _ in _Recorder.seen}) == 4


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_opens_its_own_connection_and_the_parent_keeps_its(recorder):
    transport = Transport(recorder)
    _post(transport)
    pid = os.fork()
    if pid == 0:  # the child: one call, then leave without running pytest's teardown
        try:
            _post(transport)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    _post(transport)
    parent_ports = {port for port, sender in _Recorder.seen if sender == os.getpid()}
    child_ports = {port for port, sender in _Recorder.seen if sender == pid}
    assert len(parent_ports) == 1 and len(child_ports) == 1
    assert parent_ports != child_ports


@pytest.mark.parametrize("how", ["close_next", "drop_next"])
def test_a_connection_the_server_closed_is_reopened_without_an_error(recorder, how):
    transport = Transport(recorder, max_retries=0)  # no retry may hide a failure here
    setattr(_Recorder, how, True)
    _post(transport)
    _post(transport)
    _post(transport)
    assert len(_Recorder.seen) == 3
    assert len({port for port, _ in _Recorder.seen}) == 2
