"""Registered models served by the tracking server: one worker process per (name, version),
started on first use, restarted if it dies, stopped when idle or on request.

No tornado here: handlers call these blocking methods on the server's pool.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from notebook_tracker.errors import InvalidParameter, NotFound

DEFAULT_IDLE_TIMEOUT_S = 30 * 60
_RESOLVE_TTL_S = 2.0


class ModelServing:
    def __init__(self, tracking_uri: str, idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT_S):
        self.tracking_uri = tracking_uri
        self.idle_timeout = idle_timeout
        self._manager: Any = None
        self._served: dict[str, tuple[str, int]] = {}  # worker key -> (model name, version)
        self._key_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._resolved: dict[tuple[str, str | None, str | None], tuple[float, int]] = {}

    @property
    def manager(self) -> Any:
        """The worker manager, created on first use (no thread or temp dir before)."""
        with self._lock:
            if self._manager is None:
                from notebook_tracker.models.workers import WorkerManager

                self._manager = WorkerManager(
                    tracking_uri=self.tracking_uri, idle_timeout=self.idle_timeout
                )
                self._manager.start_monitor()
            return self._manager

    @property
    def registry(self) -> Any:
        from notebook_tracker.models.registry import RegistryClient

        return RegistryClient(self.tracking_uri)

    def resolve(self, name: str, version: str | None = None, alias: str | None = None) -> int:
        """The version number a request means (briefly cached: aliases move rarely)."""
        key = (name, version, alias)
        hit = self._resolved.get(key)
        if hit is not None and time.monotonic() - hit[0] < _RESOLVE_TTL_S:
            return hit[1]
        if version is not None:
            if version == "latest":
                number = self.registry.latest_version(name).version
            elif version.isdigit():
                number = self.registry.get_model_version(name, version).version
            else:
                raise InvalidParameter(
                    f"Invalid version {version!r} in the URL: use a number, 'latest', or "
                    f"@alias (models/{name}@champion/invocations)."
                )
        elif alias is not None:
            number = self.registry.get_model_version_by_alias(name, alias).version
        else:
            number = self.registry.latest_version(name).version
        self._resolved[key] = (time.monotonic(), number)
        return number

    @staticmethod
    def key(name: str, version: int) -> str:
        return f"{name}-v{version}"

    def worker(self, name: str, version: int) -> Any:
        """The running worker of (name, version), started or restarted as needed."""
        key = self.key(name, version)
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:  # two first requests must not start two workers
            if self.manager.get(key) is not None:
                return self.manager.ensure(key)
            mv = self.registry.get_model_version(name, version)
            worker = self.manager.start(key, f"models:/{name}/{version}", version=str(version))
            worker.model_uri = mv.source
            with self._lock:
                self._served[key] = (name, version)
            return worker

    def recover(self, name: str, version: int) -> Any:
        """The worker of (name, version) restarted after it refused a connection."""
        return self.manager.recover(self.key(name, version))

    def start(self, name: str, version: str | None = None, alias: str | None = None) -> Any:
        return self.worker(name, self.resolve(name, version, alias))

    def stop(self, name: str, version: str | None = None) -> list[str]:
        """Stop the workers of `name` (all its versions, or one); returns their keys."""
        with self._lock:
            keys = [
                k
                for k, (n, v) in self._served.items()
                if n == name and (version is None or str(v) == str(version))
            ]
        if not keys:
            raise NotFound(f"Model {name!r} is not being served.")
        for key in keys:
            self.manager.stop(key, missing_ok=True)
            with self._lock:
                self._served.pop(key, None)
        return keys

    def served(self) -> list[dict[str, Any]]:
        if self._manager is None:
            return []
        out = []
        live = {w.name: w for w in self.manager.list()}
        with self._lock:
            items = list(self._served.items())
        for key, (name, version) in items:
            worker = live.get(key)
            if worker is None:  # stopped by the idle monitor
                with self._lock:
                    self._served.pop(key, None)
                continue
            out.append(
                {
                    "name": name,
                    "version": version,
                    "url": f"models/{name}/{version}/invocations",
                    "worker_url": worker.url,
                    "pid": worker.pid,
                    "state": worker.state,
                    "restarts": worker.restarts,
                    "source": worker.model_uri,
                    "last_used": int(worker.last_used * 1000),
                }
            )
        return sorted(out, key=lambda s: (s["name"], s["version"]))

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
