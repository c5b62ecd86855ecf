"""How close a synchronous call through our server is to what this machine allows.

    python benchmarks/bench_call_floor.py [--calls N] [--passes N] [--dir DIR]

A synchronous `set_tag` through a server costs at least one round trip between two processes
on loopback and one durable SQLite commit. This prints, passes interleaved, ms a call:

1. floor: a bare client (a socket, the call channel's framing, json) against a bare server (an
   asyncio protocol, json, sqlite3 in WAL mode with synchronous=FULL) upserting the tag into a
   table shaped as ours (primary key and the same two indexes): no validation, no store, no
   auth, nothing else; what any server in Python with equal durability pays on this machine;
2. ours, bare client: the same frames to our standalone server (1 worker) over its call channel;
3. ours: our TrackingClient's `set_tag` to that server, as a user calls it.

Rows 1 and 2 are given twice: the client sleeping in recv for each answer, and polling for it
as our client does (notebook_tracker/socket_wait.py). Between the polling rows, the gap 1 -> 2
is our server's own work (validation, routing, the store), and 2 -> 3 our client's. (Our
server also polls for a lone client's next frame after answering one; the bare server sleeps.)

Then what the durable commit costs: the disk's own flush (one WAL frame written at the next
place of a file already that size, then fdatasync, while another process polls as a waiting
client does), and rows 1 (polling) and 3 again with synchronous=NORMAL, where a commit is not
flushed: the same calls less the flush.

MLflow's figure for the same call is bench_ingest.py's `--only sync`. The store lives under
`--dir` (default: the system's temp folder, on disk: the commit's fdatasync is part of it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_server import free_port, start_tracker  # noqa: E402

from notebook_tracker.env import SQLITE_SYNCHRONOUS as SYNCHRONOUS  # noqa: E402

HEAD = ">IB"
UPGRADE = (
    "GET /api/2.0/notebook-tracker/calls HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Upgrade: notebook-tracker-calls/1\r\nConnection: Upgrade\r\n\r\n"
)
LOG_BATCH = 3  # wire/call_frames.ENDPOINTS.index("runs/log-batch")
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS runs (run_uuid TEXT PRIMARY KEY, lifecycle_stage TEXT)",
    "CREATE TABLE IF NOT EXISTS tags (run_uuid TEXT NOT NULL, key TEXT NOT NULL, value TEXT, "
    "PRIMARY KEY (run_uuid, key))",
    "CREATE INDEX IF NOT EXISTS ix_tags_key ON tags (key, run_uuid)",
    "CREATE INDEX IF NOT EXISTS ix_tags_run_key_value ON tags (run_uuid, key, value)",
    "INSERT OR IGNORE INTO runs VALUES ('r', 'active')",
)


# -- the bare server (run as `python bench_call_floor.py --serve PORT DB SYNCHRONOUS`) ------------
def serve(port: int, db: str, synchronous: str = "FULL") -> None:
    import struct

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    for statement in SCHEMA:
        conn.execute(statement)
    head = struct.Struct(HEAD)
    answer = struct.pack(">IH", 2, 200) + b"{}"

    class Floor(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport, self.buf, self.upgraded = transport, b"", False

        def data_received(self, data: bytes) -> None:
            self.buf += data
            if not self.upgraded:
                if b"\r\n\r\n" not in self.buf:
                    return
                self.buf = self.buf.split(b"\r\n\r\n", 1)[1]
                self.upgraded = True
                self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
            while len(self.buf) >= head.size:
                length, _ = head.unpack_from(self.buf)
                if len(self.buf) < 4 + length:
                    return
                body, self.buf = self.buf[head.size : 4 + length], self.buf[4 + length :]
                request = json.loads(body)
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("SELECT lifecycle_stage FROM runs WHERE run_uuid = 'r'").fetchone()
                for tag in request["tags"]:
                    conn.execute(
                        "INSERT INTO tags VALUES ('r', ?, ?) ON CONFLICT (run_uuid, key) "
                        "DO UPDATE SET value = excluded.value",
                        (tag["key"], tag["value"]),
                    )
                conn.execute("COMMIT")
                self.transport.write(answer)

    async def main() -> None:
        await asyncio.get_running_loop().create_server(Floor, "127.0.0.1", port)
        await asyncio.Event().wait()

    asyncio.run(main())


def wait_port(port: int, timeout: float = 60.0) -> None:
    """Until the bare server listens (it has no /health for bench_server's Server to ask)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on port {port}") from None
            time.sleep(0.1)


# -- clients ----------------------------------------------------------------------------------
def bare_calls(port: int, run_id: str, calls: int, polling: bool = False) -> float:
    """ms a call: frames of one-tag log-batches on an upgraded connection, answers read
    (with `polling`, each answer waited for as our client waits: socket_wait.py)."""
    import struct

    from notebook_tracker.socket_wait import SocketWait

    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(UPGRADE.encode())
    reply = sock.recv(4096)
    if b" 101 " not in reply.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"no call channel: {reply[:80]!r}")
    frame_head = struct.Struct(HEAD)
    wait = SocketWait(sock, 0.001 if polling else 0.0)
    started = time.perf_counter()
    for i in range(calls):
        body = json.dumps({"run_id": run_id, "tags": [{"key": "t", "value": str(i)}]}).encode()
        sock.sendall(frame_head.pack(len(body) + 1, LOG_BATCH) + body)
        began = wait.until_readable()
        answer = b""
        while len(answer) < 6:
            answer += sock.recv(65536)
        length, status = struct.unpack(">IH", answer[:6])
        while len(answer) < 6 + length:
            answer += sock.recv(65536)
        wait.arrived(began)
        if status != 200:
            raise RuntimeError(f"answer {status}: {answer[6:]!r}")
    elapsed = time.perf_counter() - started
    sock.close()
    return 1000 * elapsed / calls


def flush_floor(folder: Path, calls: int) -> float:
    """ms an fdatasync of one WAL-sized frame (24-byte header, 4 KB page) written in place in
    a file already that size, as a SQLite commit in WAL mode with synchronous=FULL ends, while
    another process polls a socket as a client waiting for its answer does."""
    poller = subprocess.Popen([sys.executable, "-c", _POLLER])
    frame = 24 + 4096
    fd = os.open(folder / "flush.bin", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, bytes(frame * 1024))
        os.fsync(fd)
        time.sleep(0.3)  # the poller running
        taken = []
        for i in range(calls):
            started = time.perf_counter()
            os.pwrite(fd, b"h" * 24, (i % 1024) * frame)
            os.pwrite(fd, b"p" * 4096, (i % 1024) * frame + 24)
            os.fdatasync(fd)
            taken.append(time.perf_counter() - started)
        return 1000 * statistics.median(taken)
    finally:
        os.close(fd)
        poller.kill()
        poller.wait()


# A process polling a socket that never becomes readable, yielding the CPU each turn.
_POLLER = (
    "import os, select, socket\n"
    "a, b = socket.socketpair()\n"
    "p = select.poll()\n"
    "p.register(a, select.POLLIN)\n"
    "while True:\n"
    "    p.poll(0)\n"
    "    os.sched_yield()\n"
)


@contextlib.contextmanager
def synchronous(level: str) -> Iterator[None]:
    """Servers started inside commit with SQLite's `synchronous=level`, whatever the
    environment said."""
    before = os.environ.get(SYNCHRONOUS)
    os.environ[SYNCHRONOUS] = level
    try:
        yield
    finally:
        if before is None:
            del os.environ[SYNCHRONOUS]
        else:
            os.environ[SYNCHRONOUS] = before


def client_calls(port: int, run_id: str, calls: int) -> float:
    from notebook_tracker.client import TrackingClient

    client = TrackingClient(f"http://127.0.0.1:{port}")
    client.set_tag(run_id, "t", "warm")
    started = time.perf_counter()
    for i in range(calls):
        client.set_tag(run_id, "t", str(i))
    return 1000 * (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the stores live (default: temp)")
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "DB", "SYNC"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], args.serve[2])
        return
    from notebook_tracker.client import TrackingClient

    tmp = Path(tempfile.mkdtemp(prefix="nt-floor-", dir=args.dir))
    here = str(Path(__file__).resolve())
    floors: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    servers = []
    try:
        for sync in ("FULL", "NORMAL"):
            port = free_port()
            command = [sys.executable, here, "--serve", str(port), str(tmp / f"{sync}.db"), sync]
            floors[sync] = (subprocess.Popen(command), port)
            wait_port(port)
        with synchronous("FULL"):
            ours = start_tracker(tmp / "ours.db", tmp / "art", 1, tmp / "ours.log")
        servers.append(ours)
        with synchronous("NORMAL"):
            unflushed = start_tracker(tmp / "normal.db", tmp / "art2", 1, tmp / "normal.log")
        servers.append(unflushed)
        run_ids = {}
        for server in servers:
            client = TrackingClient(f"http://127.0.0.1:{server.port}")
            run_ids[server.port] = client.create_run(client.create_experiment("f")).info.run_id
        floor_port, normal_port = floors["FULL"][1], floors["NORMAL"][1]
        keys = ("floor", "floor_p", "bare", "bare_p", "ours", "flush", "floor_n", "ours_n")
        rows: dict[str, list[float]] = {k: [] for k in keys}
        for port in (floor_port, normal_port):  # the WAL's first pages grow the file
            bare_calls(port, "r", 200)
        for server in servers:
            bare_calls(server.port, run_ids[server.port], 200)
        ours_run, normal_run = run_ids[ours.port], run_ids[unflushed.port]
        for _ in range(args.passes):
            rows["floor"].append(bare_calls(floor_port, "r", args.calls))
            rows["floor_p"].append(bare_calls(floor_port, "r", args.calls, polling=True))
            rows["bare"].append(bare_calls(ours.port, ours_run, args.calls))
            rows["bare_p"].append(bare_calls(ours.port, ours_run, args.calls, polling=True))
            rows["ours"].append(client_calls(ours.port, ours_run, args.calls))
            rows["flush"].append(flush_floor(tmp, args.calls))
            rows["floor_n"].append(bare_calls(normal_port, "r", args.calls, polling=True))
            rows["ours_n"].append(client_calls(unflushed.port, normal_run, args.calls))
    finally:
        for process, _ in floors.values():
            process.terminate()
            process.wait(20)
        for server in servers:
            server.stop()
    labels = {
        "floor": "floor: bare client, bare server, FULL commit",
        "floor_p": "floor, the client polling for answers",
        "bare": "our server, bare client (call channel)",
        "bare_p": "our server, bare client polling for answers",
        "ours": "our client's set_tag, our server",
        "flush": "the disk: one WAL frame written and flushed",
        "floor_n": "floor polling, NORMAL (commits not flushed)",
        "ours_n": "our client's set_tag, our server on NORMAL",
    }
    print(f"\nset_tag through a server, {args.calls} calls x {args.passes} interleaved passes,")
    print(f"store under {tmp.parent}; ms a call (median, then each pass)")
    for key, label in labels.items():
        each = " / ".join(f"{v:.3f}" for v in rows[key])
        print(f"{label:48s} {statistics.median(rows[key]):6.3f}   ({each})")


if __name__ == "__main__":
    main()
