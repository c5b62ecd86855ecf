"""Registered models served by the tracking server: one worker process per (name, version),
started on first use, restarted if it dies, stopped when idle or on request. A logged model
can also be served by URI under a name of its own (unless the server serves registered
versions only).

Every model is loaded through `ModelSources.fetch`: from the server's artifact store only,
checked when the worker starts, into a private copy. Serving can be turned off entirely.

No tornado here: handlers call these blocking methods on the server's pool.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from notebook_tracker.errors import InvalidParameter, NotFound, ServingRefused

DEFAULT_IDLE_TIMEOUT_S = 30 * 60
_MODELS_PREFIX = "nt-served-models-"
_RESOLVE_TTL_S = 2.0


OFF_MESSAGE = (
    "Model serving is turned off on this server (notebook-tracker server --no-serving, or "
    "c.NotebookTracker.serving_enabled = False): serve the model yourself with "
    "`notebook-tracker models serve -m <model uri>` or `%serve_model`."
)
REGISTERED_ONLY_MESSAGE = (
    "This server serves registered model versions only (--serve-registered-only, or "
    "c.NotebookTracker.serve_registered_only = True): register {uri!r} first "
    "(register_model(uri, name)) and serve that version."
)


def _models_dir() -> Path:
    """A private directory for this process's model copies, removed when it exits; copies
    left by servers that were killed (a SIGTERM runs no exit handler) are removed here."""
    base = Path(tempfile.gettempdir())
    for old in base.glob(f"{_MODELS_PREFIX}*-*"):
        pid = old.name[len(_MODELS_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)) and old.stat().st_uid == os.getuid():
            shutil.rmtree(old, ignore_errors=True)
    path = Path(tempfile.mkdtemp(prefix=f"{_MODELS_PREFIX}{os.getpid()}-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_name(name: str) -> None:
    """A served model's name becomes a file name: one plain path component."""
    if not name or "/" in name or "\\" in name or "\x00" in name or name.strip(".") == "":
        raise InvalidParameter(
            f"Invalid served-model name {name!r}: use letters, digits, '-', '_' and '.'."
        )


class ModelServing:
    """Served models of one server.

    - `sources`: where models load from (`models.sources.ModelSources`); None only for a
      server that never loads models (serving turned off).
    - `enabled=False`: every start and invocation is refused with a 403.
    - `registered_only=True`: only registry versions are served, never a model by URI.
    """

    def __init__(
        self,
        tracking_uri: str,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT_S,
        *,
        sources: Any = None,
        enabled: bool = True,
        registered_only: bool = False,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.idle_timeout = idle_timeout
        self.sources = sources
        self.enabled = enabled
        self.registered_only = registered_only
        self._manager: Any = None
        self._models_dir: Path | None = None
        # worker key -> (model name, version; None for a model served by URI)
        self._served: dict[str, tuple[str, int | None]] = {}
        self._by_uri: dict[str, str] = {}  # name -> worker key of a model served by URI
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

    def settings(self) -> dict[str, bool]:
        return {"enabled": self.enabled, "registered_only": self.registered_only}

    def require_enabled(self) -> None:
        if not self.enabled:
            raise ServingRefused(OFF_MESSAGE)

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
            elif version.isascii() and version.isdigit():
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
        return int(number)

    @staticmethod
    def key(name: str, version: int) -> str:
        return f"{name}-v{version}"

    def target(self, name: str, version: str | None, alias: str | None) -> int | None:
        """The version a request for `name` means; None for a model served by URI."""
        self.require_enabled()
        if version is None and alias is None:
            with self._lock:
                if name in self._by_uri:
                    return None
        return self.resolve(name, version, alias)

    def worker(self, name: str, version: int | None) -> Any:
        """The running worker of (name, version), started or restarted as needed."""
        self.require_enabled()
        if version is None:
            return self.manager.ensure(self._served_uri_key(name))
        key = self.key(name, version)
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:  # two first requests must not start two workers
            if self.manager.get(key) is not None:
                return self.manager.ensure(key)
            mv = self.registry.get_model_version(name, version)
            worker = self._launch(key, mv.source, str(version))
            with self._lock:
                self._served[key] = (name, version)
            return worker

    def _served_uri_key(self, name: str) -> str:
        """The worker key of a model served by URI under `name`, or NotFound."""
        with self._lock:
            key = self._by_uri.get(name)
        if key is None:
            raise NotFound(f"Model {name!r} is not being served.")
        return key

    def _launch(self, key: str, uri: str, version: str | None) -> Any:
        if self.sources is None:
            raise ServingRefused(OFF_MESSAGE)
        model_dir = self._fresh_dir(key)
        self.sources.fetch(uri, model_dir)
        try:
            return self.manager.start(key, uri, version=version, model_dir=model_dir)
        except BaseException:
            shutil.rmtree(model_dir, ignore_errors=True)
            raise

    def _fresh_dir(self, key: str) -> Path:
        _check_name(key)
        with self._lock:
            if self._models_dir is None:
                self._models_dir = _models_dir()
            path = self._models_dir / key
        shutil.rmtree(path, ignore_errors=True)
        return path

    def recover(self, name: str, version: int | None) -> Any:
        """The worker of (name, version) restarted after it refused a connection."""
        self.require_enabled()
        if version is None:
            return self.manager.recover(self._served_uri_key(name))
        return self.manager.recover(self.key(name, version))

    def start(
        self,
        name: str,
        version: str | None = None,
        alias: str | None = None,
        model_uri: str | None = None,
    ) -> Any:
        self.require_enabled()
        if model_uri is not None:
            return self.start_uri(name, model_uri)
        return self.worker(name, self.resolve(name, version, alias))

    def start_uri(self, name: str, model_uri: str) -> Any:
        """Serve the logged model at `model_uri` (e.g. `runs:/<id>/model`) as `name`."""
        self.require_enabled()
        if self.registered_only:
            raise ServingRefused(REGISTERED_ONLY_MESSAGE.format(uri=model_uri))
        _check_name(name)
        try:
            self.registry.get_registered_model(name)
        except NotFound:
            pass
        else:
            raise InvalidParameter(
                f"{name!r} is a registered model: serve it by version ({{'version': 'latest'}}) "
                "or serve this URI under another name."
            )
        key = f"{name}@uri"
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            worker = self._launch(key, model_uri, None)
            with self._lock:
                self._served[key] = (name, None)
                self._by_uri[name] = key
            return worker

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
                if self._by_uri.get(name) == key:
                    del self._by_uri[name]
            if self._models_dir is not None:
                shutil.rmtree(self._models_dir / key, ignore_errors=True)
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
                    if self._by_uri.get(name) == key:
                        del self._by_uri[name]
                continue
            path = f"{name}/{version}" if version is not None else name
            out.append(
                {
                    "name": name,
                    "version": version,
                    "url": f"models/{path}/invocations",
                    "worker_url": worker.url,
                    "pid": worker.pid,
                    "state": worker.state,
                    "restarts": worker.restarts,
                    "source": worker.model_uri,
                    "last_used": int(worker.last_used * 1000),
                }
            )
        return sorted(out, key=lambda s: (s["name"], s["version"] or 0))

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
        if self._models_dir is not None:
            shutil.rmtree(self._models_dir, ignore_errors=True)
