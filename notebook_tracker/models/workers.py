"""Model workers: a served model is a child process running the scoring server.

`WorkerManager` starts a worker and waits for its `/ping`, lists and stops workers, restarts
one that died, and stops those left idle. Workers end with the process that manages them
(the kernel of `%serve_model`, the Jupyter server): a parent-death signal on Linux, a watcher
thread in the worker everywhere, and `atexit` here. Each worker runs in its own session, so
interrupting a kernel (SIGINT to its process group) does not stop the models it serves.
"""

from __future__ import annotations

import atexit
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebook_tracker.errors import InvalidParameter, NotFound, TrackerError, WorkerStartError

STARTING, READY, DEAD, FAILED, STOPPED = "starting", "ready", "dead", "failed", "stopped"


@dataclass
class Worker:
    name: str
    model_uri: str
    model_dir: Path
    host: str
    port: int
    workers: int
    version: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    state: str = STARTING
    started_at: float = 0.0
    last_used: float = 0.0
    restarts: int = 0
    log_path: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:] if self.log_path else ""
        except OSError:
            return ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "model_uri": self.model_uri,
            "url": self.url,
            "pid": self.pid,
            "state": self.state,
            "restarts": self.restarts,
            "workers": self.workers,
            "started_at": int(self.started_at * 1000),
            "last_used": int(self.last_used * 1000),
        }


def ping(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request("GET", "/ping")
            return conn.getresponse().status == 200
        finally:
            conn.close()
    except OSError:
        return False


class WorkerManager:
    """Served models of this process, by name."""

    def __init__(
        self,
        tracking_uri: str | None = None,
        idle_timeout: float | None = None,
        startup_timeout: float = 120.0,
        max_restarts: int = 5,
        log_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.idle_timeout = idle_timeout
        self.startup_timeout = startup_timeout
        self.max_restarts = max_restarts
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="nt-serving-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._workers: dict[str, Worker] = {}
        self._lock = threading.Lock()
        self._monitor: threading.Thread | None = None
        self._closed = threading.Event()
        atexit.register(self.stop_all)

    # -- lifecycle --------------------------------------------------------------------------
    def start(
        self,
        name: str,
        model_uri: str,
        port: int | None = None,
        host: str = "127.0.0.1",
        workers: int = 1,
        version: str | None = None,
        model_dir: str | os.PathLike[str] | None = None,
    ) -> Worker:
        """Serve `model_uri` as `name` (replacing a worker of that name) and wait until ready."""
        if not name or "/" in name:
            raise InvalidParameter(f"Invalid served-model name {name!r}: use letters, digits, -_.")
        if model_dir is None:
            from notebook_tracker.models.uris import download_model

            model_dir = download_model(model_uri, tracking_uri=self.tracking_uri)
        self.stop(name, missing_ok=True)
        worker = Worker(
            name=name,
            model_uri=model_uri,
            model_dir=Path(model_dir),
            host=host,
            port=int(port or 0),
            workers=max(1, int(workers)),
            version=version,
            log_path=self.log_dir / f"{name}.log",
        )
        with self._lock:
            self._workers[name] = worker
        try:
            self._launch(worker)
        except BaseException:
            with self._lock:
                self._workers.pop(name, None)
            raise
        return worker

    def _launch(self, worker: Worker) -> None:
        port_file = self.log_dir / f"{worker.name}.port"
        port_file.unlink(missing_ok=True)
        cmd = [
            sys.executable, "-m", "notebook_tracker.models.scoring",
            "--model-dir", str(worker.model_dir),
            "--model-uri", worker.model_uri,
            "--host", worker.host,
            "--port", str(worker.port),
            "--workers", str(worker.workers),
            "--parent-pid", str(os.getpid()),
            "--port-file", str(port_file),
        ]  # fmt: skip
        assert worker.log_path is not None
        with open(worker.log_path, "ab") as log:
            worker.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker.state = STARTING
        worker.started_at = worker.last_used = time.time()
        self._wait_ready(worker, port_file)

    def _wait_ready(self, worker: Worker, port_file: Path) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            assert worker.proc is not None
            if worker.proc.poll() is not None:
                worker.state = FAILED
                raise WorkerStartError(
                    f"The model server for {worker.name!r} ({worker.model_uri}) exited with "
                    f"code {worker.proc.returncode} before it was ready. Its log:\n"
                    f"{worker.log_tail()}"
                )
            if port_file.is_file():
                worker.port = int(port_file.read_text() or 0) or worker.port
                if ping(worker.host if worker.host != "0.0.0.0" else "127.0.0.1", worker.port):
                    worker.state = READY
                    return
            if time.monotonic() > deadline:
                self._terminate(worker)
                worker.state = FAILED
                raise WorkerStartError(
                    f"The model server for {worker.name!r} did not answer /ping within "
                    f"{self.startup_timeout:.0f} s. Its log:\n{worker.log_tail()}"
                )
            time.sleep(0.02)

    def stop(self, name: str, missing_ok: bool = False) -> bool:
        with self._lock:
            worker = self._workers.pop(name, None)
        if worker is None:
            if missing_ok:
                return False
            raise NotFound(f"No served model named {name!r}; served: {self.names() or 'none'}.")
        self._terminate(worker)
        worker.state = STOPPED
        return True

    def stop_all(self) -> None:
        for name in self.names():
            self.stop(name, missing_ok=True)

    def close(self) -> None:
        self._closed.set()
        self.stop_all()

    @staticmethod
    def _terminate(worker: Worker) -> None:
        proc = worker.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and its forked workers
        except (ProcessLookupError, PermissionError):
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()

    # -- queries ----------------------------------------------------------------------------
    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._workers)

    def get(self, name: str) -> Worker | None:
        with self._lock:
            return self._workers.get(name)

    def list(self) -> list[Worker]:
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            if worker.state == READY and not worker.alive():
                worker.state = DEAD
        return sorted(workers, key=lambda w: w.name)

    def ensure(self, name: str) -> Worker:
        """The worker `name`, restarted first if it died; marks it used."""
        worker = self.get(name)
        if worker is None:
            raise NotFound(f"No served model named {name!r}.")
        with worker.lock:
            if not worker.alive():
                self._restart(worker)
        worker.last_used = time.time()
        return worker

    def recover(self, name: str) -> Worker:
        """Restart a worker that refused a connection: it may be dying but not yet reaped."""
        worker = self.get(name)
        if worker is None:
            raise NotFound(f"No served model named {name!r}.")
        with worker.lock:
            if worker.proc is not None and worker.proc.poll() is None:
                try:
                    worker.proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    worker.proc.kill()
                    worker.proc.wait(timeout=5)
            self._restart(worker)
        worker.last_used = time.time()
        return worker

    def _restart(self, worker: Worker) -> None:
        if worker.restarts >= self.max_restarts:
            worker.state = FAILED
            raise WorkerStartError(
                f"The model server for {worker.name!r} died {worker.restarts + 1} times; not "
                f"restarting it again. Its log:\n{worker.log_tail()}"
            )
        worker.restarts += 1
        worker.state = DEAD
        self._launch(worker)

    def check(self) -> None:
        """Restart dead workers and stop idle ones (the monitor calls this periodically)."""
        now = time.time()
        for worker in self.list():
            if self.idle_timeout and now - worker.last_used > self.idle_timeout:
                self.stop(worker.name, missing_ok=True)
            elif worker.state in (DEAD, READY) and not worker.alive():
                try:
                    with worker.lock:
                        if not worker.alive():
                            self._restart(worker)
                except TrackerError:
                    pass  # state says FAILED; the next request reports it

    def start_monitor(self, interval: float = 2.0) -> None:
        """Check workers every `interval` seconds in a daemon thread."""
        if self._monitor is not None:
            return

        def _loop() -> None:
            while not self._closed.wait(interval):
                try:
                    self.check()
                except Exception:  # the monitor must outlive any one failure
                    pass

        self._monitor = threading.Thread(target=_loop, name="nt-model-workers", daemon=True)
        self._monitor.start()
