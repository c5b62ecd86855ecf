"""The standalone tracking server: the shared route table in a plain tornado application.

Several worker processes share one listening socket (bound before forking); each opens its
own database connections after the fork. With an artifacts destination, experiments created
through the server get `mlflow-artifacts:/<id>` locations, so clients upload through its
artifact proxy instead of needing access to the destination themselves.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

from notebook_tracker import env
from notebook_tracker.server.context import PROXY_SCHEME, TrackerContext

log = logging.getLogger("notebook_tracker.server")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
# Connections the kernel holds until a worker accepts them (tornado's default is 128): a team's
# clients reconnecting at once after a restart must not have their SYNs dropped (a 1 s retry).
LISTEN_BACKLOG = 1024
MAX_HEADER_BYTES = 1024 * 1024


def open_store(backend_store_uri: str, artifacts_destination: str | None) -> Any:
    """The SQL store, with new experiments' artifacts under the proxy when it serves them."""
    from notebook_tracker.store.sql import SqlStore

    root = PROXY_SCHEME if artifacts_destination else None
    return SqlStore(backend_store_uri, default_artifact_root=root)


def make_context(
    backend_store_uri: str,
    artifacts_destination: str | None,
    auth_token: str | None = None,
    max_body_bytes: int | None = None,
    max_upload_bytes: int | None = None,
    allowed_artifact_roots: tuple[str, ...] = (),
    serving_enabled: bool = True,
    serve_registered_only: bool = False,
) -> TrackerContext:
    kwargs: dict[str, Any] = {}
    if max_body_bytes:
        kwargs["max_body_bytes"] = max_body_bytes
    context = TrackerContext(
        backend_store_uri,
        artifacts_destination,
        mode="standalone",
        auth_token=auth_token,
        store=open_store(backend_store_uri, artifacts_destination),
        allowed_artifact_roots=allowed_artifact_roots,
        max_upload_bytes=max_upload_bytes or None,
        serving_enabled=serving_enabled,
        serve_registered_only=serve_registered_only,
        **kwargs,
    )
    return context


def make_app(context: TrackerContext) -> Any:
    import tornado.web

    from notebook_tracker.server.access_log import log_request
    from notebook_tracker.server.routes import build_handlers

    return tornado.web.Application(
        build_handlers("/", context),
        compress_response=True,
        serve_traceback=False,
        log_function=log_request,
    )


def make_http_server(context: TrackerContext) -> Any:
    """The worker's HTTP server: MLflow's hot calls answered below tornado's RequestHandler
    (server/fast_calls.py), every other request by the Application."""
    from notebook_tracker.server.fast_calls import FastCalls
    from notebook_tracker.server.worker_balance import BalancedHTTPServer

    body_limit = context.max_body_bytes + 1024 * 1024  # a little over: JSON 413, not a reset
    return BalancedHTTPServer(
        FastCalls(make_app(context), context),
        max_body_size=body_limit,
        # Room for an over-long URL to reach the app, which answers it with a JSON 414.
        max_header_size=MAX_HEADER_BYTES,
    )


def _die_with_parent() -> None:
    """A worker must not outlive the process that forked it (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def serve(
    backend_store_uri: str,
    artifacts_destination: str | None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int = 1,
    auth_token: str | None = None,
    max_body_bytes: int | None = None,
    max_upload_bytes: int | None = None,
    allowed_artifact_roots: tuple[str, ...] = (),
    serving_enabled: bool = True,
    serve_registered_only: bool = False,
) -> None:
    """Listen on host:port with `workers` processes until terminated."""
    import tornado.ioloop
    import tornado.netutil
    import tornado.process

    from notebook_tracker.server import access_log
    from notebook_tracker.validation import check_token

    token_source = "The server token (--auth-token / $NOTEBOOK_TRACKER_SERVER_TOKEN)"
    check_token(auth_token, token_source)
    access_log.configure()
    # A bad root stops the server here, with one line, before it listens.
    from notebook_tracker.artifacts.roots import ArtifactRoots

    ArtifactRoots(allowed_artifact_roots, proxy_root=artifacts_destination)
    # Migrate the schema and create the Default experiment once, before any worker exists.
    store = open_store(backend_store_uri, artifacts_destination)
    store.reader.dispose()
    store.writer.dispose()
    # Imported once here, for every worker forked below: the ingest path imports NumPy on a
    # worker's first merge of staged rows or first compact frame, on its writer thread, with
    # every request of the moment queued behind it (55 ms on a quiet machine, 0.3 s on a busy
    # one).
    import numpy  # noqa: F401

    sockets = tornado.netutil.bind_sockets(port, address=host, backlog=LISTEN_BACKLOG)
    bound_port = sockets[0].getsockname()[1]
    print(
        f"notebook-tracker server listening on http://{host}:{bound_port} "
        f"({workers} worker{'s' if workers != 1 else ''}, store {_redact(backend_store_uri)}, "
        f"artifacts {artifacts_destination or 'not proxied'}"
        f"{', token required' if auth_token else ''})",
        flush=True,
    )
    counts = None
    if workers > 1:
        from notebook_tracker.server.worker_balance import ConnectionCounts

        counts = ConnectionCounts(workers)  # shared by the workers forked next
        parent = os.getpid()
        try:
            tornado.process.fork_processes(workers)
        except KeyboardInterrupt:  # Ctrl-C in the parent, which only waits on its workers
            return
        _die_with_parent()
        if os.getppid() != parent:  # the parent died before we asked to follow it
            os._exit(0)
    loop_name = _event_loop()
    context = make_context(
        backend_store_uri,
        artifacts_destination,
        auth_token,
        max_body_bytes,
        max_upload_bytes,
        allowed_artifact_roots,
        serving_enabled,
        serve_registered_only,
    )
    server = make_http_server(context)
    task = tornado.process.task_id() or 0
    if counts is not None:
        server.balance(counts, task)
    server.add_sockets(sockets)
    print(f"worker {task + 1} of {workers} ready (pid {os.getpid()}, {loop_name})", flush=True)
    try:
        tornado.ioloop.IOLoop.current().start()
    except KeyboardInterrupt:
        pass


def _event_loop() -> str:
    """This worker's event loop, named: uvloop's where installed (not on Windows). Under the JSON
    log-batch load on durable PostgreSQL (2 workers, 4 connections, 11 interleaved runs of
    each), a worker spent a median 0.82 ms of CPU a request on it against 0.86 on asyncio's
    own; the requests per second moved more with the machine's disk than with the loop."""
    if not env.server_uvloop():
        return "asyncio event loop"
    try:
        import uvloop
    except ImportError:
        return "asyncio event loop (uvloop is not installed)"
    import asyncio

    asyncio.set_event_loop(uvloop.new_event_loop())
    return "uvloop event loop"


def _redact(uri: str) -> str:
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return uri
