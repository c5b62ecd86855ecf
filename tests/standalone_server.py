"""Start `notebook-tracker server` as a real process for tests, and stop it afterwards.

with running_server(tmp_path, store_uri, artifacts, workers=2) as server:
    urllib.request.urlopen(server.url + "/health")
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import free_port, port_is_open, wait_until


@dataclass
class ServerProcess:
    url: str
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    token: str | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        token: str | None = "default",
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body); a dict/list body is sent as JSON with its Content-Type."""
        data = body
        all_headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        use_token = self.token if token == "default" else token
        if use_token:
            all_headers.setdefault("Authorization", f"Bearer {use_token}")
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def json(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        status, _, raw = self.request(method, path, body, **kwargs)
        return status, json.loads(raw) if raw else None

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []


@contextlib.contextmanager
def running_server(
    tmp_path: Path,
    store_uri: str,
    artifacts: str | None = None,
    workers: int = 2,
    extra_args: list[str] | None = None,
    token: str | None = None,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> Iterator[ServerProcess]:
    port = free_port()
    args = [
        sys.executable, "-m", "notebook_tracker.cli", "server",
        "--backend-store-uri", store_uri,
        "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip
    if artifacts:
        args += ["--artifacts-destination", artifacts]
    if token:
        args += ["--auth-token", token]
    args += extra_args or []
    log_path = tmp_path / f"server-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=tmp_path,
        )
    server = ServerProcess(f"http://{host}:{port}", host, port, proc, log_path, token)
    try:
        wait_until(
            lambda: proc.poll() is not None or port_is_open(host, port),
            timeout=60,
            what=f"notebook-tracker server on port {port}",
        )
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        # The port opens before the workers are forked; each says when it serves.
        wait_until(
            lambda: proc.poll() is not None or server.log().count(" ready (pid ") >= workers,
            timeout=60,
            what=f"{workers} worker(s) ready",
        )
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        yield server
    finally:
        pids = server.worker_pids()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # Workers follow their parent (PR_SET_PDEATHSIG); make sure none is left behind.
        for pid in pids:
            wait_until(lambda p=pid: _gone(p), timeout=10, what=f"exit of worker {pid}")


def _gone(pid: int) -> bool:
    """True when the process no longer runs (absent, or a zombie nobody has reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].startswith("Z")
