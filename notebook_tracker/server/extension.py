"""The Jupyter server extension: the tracking API under `{base_url}notebook-tracker/`.

On load it settles, once, which store this Jupyter server uses and exports it as
`NOTEBOOK_TRACKER_URI` into the server's environment, which every kernel the server starts
inherits: runs from all notebooks under one server land in one store, the one the sidebar reads.
"""

from __future__ import annotations

import os
from typing import Any

from traitlets import Bool, Int, List, Unicode
from traitlets.config import Configurable

from notebook_tracker import config, env

URL_NAMESPACE = "notebook-tracker"


class NotebookTracker(Configurable):
    """Settings of the notebook-tracker server extension (`c.NotebookTracker.<name>`)."""

    tracking_uri = Unicode(
        "",
        config=True,
        help=(
            "Tracking store of this server and its kernels: sqlite:///path, postgresql://..., "
            "http(s)://tracking-server, or a folder. Empty: $NOTEBOOK_TRACKER_URI, else "
            "<root_dir>/.notebook_tracker/tracker.db."
        ),
    )
    max_body_mb = Int(16, config=True, help="Largest JSON request body accepted, in MiB.")
    allowed_artifact_roots = List(
        Unicode(),
        default_value=[],
        config=True,
        help=(
            "More directories or s3://bucket/prefix roots where experiments' artifacts may live, "
            "besides the store's default artifact root. The server reads, lists and deletes "
            "artifacts only inside these roots."
        ),
    )
    serving_enabled = Bool(
        True,
        config=True,
        help=(
            "Serve registered models (models/<name>/invocations, api/serving). Loading a model "
            "runs its code; with False, serving requests get a 403."
        ),
    )
    serve_registered_only = Bool(
        False,
        config=True,
        help="Serve registered model versions only, never a logged model by URI (runs:/...).",
    )


def resolve_tracking_uri(configured: str, root_dir: str) -> str:
    """The store: the trait, then NOTEBOOK_TRACKER_URI, then a SQLite file under `root_dir`."""
    if configured:
        return config.normalize_uri(configured)
    from_env = env.tracking_uri()
    if from_env:
        return config.normalize_uri(from_env)
    return config.default_tracking_uri(root_dir)


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.utils import url_path_join

    from notebook_tracker import redaction
    from notebook_tracker.server.context import TrackerContext
    from notebook_tracker.server.jupyter_channel import channel_handlers
    from notebook_tracker.server.routes import build_handlers
    from notebook_tracker.server.view_run import view_run_handlers

    # Jupyter scrubs `?token=` from its access log; tracebacks of our handlers too, from here.
    redaction.install()
    settings = NotebookTracker(parent=serverapp)
    root_dir = os.path.expanduser(serverapp.root_dir)
    uri = resolve_tracking_uri(settings.tracking_uri, root_dir)
    # Kernels are started later by this process and inherit its environment.
    os.environ[env.TRACKING_URI] = uri

    from notebook_tracker.errors import TrackerError

    try:
        context = TrackerContext(
            uri,
            mode="jupyter",
            max_body_bytes=settings.max_body_mb * 1024 * 1024,
            allowed_artifact_roots=settings.allowed_artifact_roots,
            serving_enabled=settings.serving_enabled,
            serve_registered_only=settings.serve_registered_only,
        )
    except TrackerError as exc:  # a bad c.NotebookTracker.allowed_artifact_roots entry
        serverapp.log.error("notebook-tracker: not loaded: %s", exc.message)
        return
    web_app = serverapp.web_app
    prefix = url_path_join(web_app.settings["base_url"], URL_NAMESPACE, "/")
    web_app.settings["notebook_tracker"] = context
    # MLflow's "View run at …" links land on the tracking root: they lead into JupyterLab.
    view_run = view_run_handlers(prefix, web_app.settings["base_url"])
    handlers = build_handlers(prefix, context)
    channel = channel_handlers(prefix, context, handlers, web_app.settings)
    web_app.add_handlers(".*$", [*view_run, *channel, *handlers])
    # Open the store (schema check, migrations) off the IO loop, before the first request.
    future = context.executor.submit(lambda: context.client)
    future.add_done_callback(lambda f: _report_open(serverapp, uri, f))
    serverapp.log.info("notebook-tracker: store %s, API under %s", _redact(uri), prefix)


def _report_open(serverapp: Any, uri: str, future: Any) -> None:
    exc = future.exception()
    if exc is not None:
        serverapp.log.error("notebook-tracker: cannot open store %s: %s", _redact(uri), exc)


def _redact(uri: str) -> str:
    """The URI without a password, for logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return uri


# Classic-notebook name of the same hook.
load_jupyter_server_extension = _load_jupyter_server_extension
