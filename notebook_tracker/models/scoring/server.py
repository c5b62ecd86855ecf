"""Run the scoring app for a local model directory: bind, load, fork workers, serve.

The model is loaded once, before the workers are forked, so they share its memory and start
instantly. A served model ends with whoever started it (`--parent-pid`): on Linux through the
parent-death signal, everywhere through a watcher thread.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from notebook_tracker.models import lifetime
from notebook_tracker.models.scoring.app import DEFAULT_MAX_BODY_BYTES

DEFAULT_HOST = "127.0.0.1"


def serve(
    model_dir: str | os.PathLike[str],
    host: str = DEFAULT_HOST,
    port: int = 0,
    workers: int = 1,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    parent_pid: int | None = None,
    port_file: str | None = None,
    model_uri: str | None = None,
) -> None:
    """Serve until killed. `port=0` picks a free port, written to `port_file` once bound."""
    import tornado.netutil

    from notebook_tracker.models.pyfunc_model import load_pyfunc_from_dir

    if parent_pid:
        lifetime.set_parent_death_signal()
        lifetime.watch_parent(parent_pid)
    model = load_pyfunc_from_dir(Path(model_dir), model_uri)
    # What every request needs is imported before /ping answers: "ready" means the first
    # request is served as fast as the next ones.
    import notebook_tracker.models.enforce  # noqa: F401  (pandas)
    import notebook_tracker.models.scoring.app  # noqa: F401  (tornado.web)

    sockets = tornado.netutil.bind_sockets(port, host, backlog=1024)
    bound = sockets[0].getsockname()[1]
    if port_file:
        _write_atomically(port_file, str(bound))
    if workers > 1:
        import tornado.process

        master = os.getpid()
        tornado.process.fork_processes(workers, max_restarts=1000)
        lifetime.set_parent_death_signal()  # each worker ends with the master
        lifetime.watch_parent(master)
    _run(model, sockets, max_body_bytes)


def _run(model: object, sockets: list[Any], max_body_bytes: int) -> None:
    import asyncio

    import tornado.httpserver

    from notebook_tracker.models.scoring.app import make_app

    async def main() -> None:
        server = tornado.httpserver.HTTPServer(
            make_app(model, max_body_bytes),
            # Above the app's own limit, so that the app answers oversized bodies with JSON.
            max_body_size=max_body_bytes + 1,
            # Room for an over-long URL to reach the app, which answers it with a JSON 414.
            max_header_size=1024 * 1024,
            idle_connection_timeout=300,
        )
        server.add_sockets(sockets)
        await asyncio.Event().wait()

    asyncio.run(main())


def _write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
