"""`notebook-tracker server`: the standalone, multi-worker tracking server."""

from __future__ import annotations

import click

from notebook_tracker import env


@click.command()
@click.option(
    "--backend-store-uri",
    envvar=env.TRACKING_URI,
    default=None,
    help="Where runs are stored: sqlite:///path.db or postgresql://user:pw@host/db. "
    "Default: $NOTEBOOK_TRACKER_URI, else .notebook_tracker/ in the current directory.",
)
@click.option(
    "--artifacts-destination",
    default=None,
    help="Where the server keeps the artifacts it proxies: a directory or s3://bucket/prefix. "
    "Default: the artifacts folder beside a SQLite store (required for other stores).",
)
@click.option(
    "--allowed-artifact-root",
    "allowed_artifact_roots",
    multiple=True,
    help="Another directory or s3://bucket/prefix where experiments' artifacts may live "
    "(repeatable). Locations outside the artifacts destination and these roots are refused.",
)
@click.option(
    "--host",
    "-h",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 exposes the server to the network.",
)
@click.option("--port", "-p", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    "-w",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes sharing the port.",
)
@click.option(
    "--auth-token",
    envvar="NOTEBOOK_TRACKER_SERVER_TOKEN",
    default=None,
    help="Require 'Authorization: Bearer <token>' on every request "
    "(or $NOTEBOOK_TRACKER_SERVER_TOKEN). Clients set NOTEBOOK_TRACKER_TOKEN or "
    "MLFLOW_TRACKING_TOKEN.",
)
@click.option(
    "--max-body-size",
    default=16 * 1024 * 1024,
    show_default=True,
    type=click.IntRange(1024),
    help="Largest JSON request body, in bytes.",
)
@click.option(
    "--max-artifact-size",
    default=5 * 1024**3,
    show_default=True,
    type=click.IntRange(1),
    help="Largest artifact upload through the proxy, in bytes.",
)
@click.option(
    "--no-serving",
    is_flag=True,
    help="Do not serve models: loading a model runs its code (a pickle), and anyone holding "
    "the token could start one. Serving requests then get a 403.",
)
@click.option(
    "--serve-registered-only",
    is_flag=True,
    help="Serve registered model versions only, never a logged model by URI (runs:/...).",
)
def server(
    backend_store_uri: str | None,
    artifacts_destination: str | None,
    allowed_artifact_roots: tuple[str, ...],
    host: str,
    port: int,
    workers: int,
    auth_token: str | None,
    max_body_size: int,
    max_artifact_size: int,
    no_serving: bool,
    serve_registered_only: bool,
) -> None:
    """Serve the tracking store over HTTP (native and MLflow-compatible REST APIs).

    Existing MLflow code works against it with MLFLOW_TRACKING_URI=http://HOST:PORT.
    """
    from notebook_tracker import config
    from notebook_tracker.errors import InvalidParameter
    from notebook_tracker.server.standalone import serve

    uri = (
        config.normalize_uri(backend_store_uri)
        if backend_store_uri
        else (config.get_tracking_uri())
    )
    if uri.startswith(("http://", "https://")):
        raise InvalidParameter(
            f"--backend-store-uri {uri!r} is a server; give a database (sqlite:///... or "
            "postgresql://...)."
        )
    destination = artifacts_destination
    if destination is None:
        if not uri.startswith("sqlite:"):
            raise InvalidParameter(
                "--artifacts-destination is required with a non-SQLite store: give a directory "
                "or s3://bucket/prefix."
            )
        destination = config.default_artifact_root(uri)
    elif "://" not in destination:
        import os

        destination = os.path.abspath(os.path.expanduser(destination))
    if artifacts_destination is not None:  # the default sits beside the database, checked there
        _check_writable_folder(destination)
    try:
        serve(
            uri,
            destination,
            host=host,
            port=port,
            workers=workers,
            auth_token=auth_token or None,
            max_body_bytes=max_body_size,
            max_upload_bytes=max_artifact_size,
            allowed_artifact_roots=allowed_artifact_roots,
            serving_enabled=not no_serving,
            serve_registered_only=serve_registered_only,
        )
    except OSError as error:
        from notebook_tracker.cli.errors import is_listen_error, listen_error

        if is_listen_error(error, port):
            raise listen_error(error, host, port) from None
        raise


def _check_writable_folder(destination: str) -> None:
    """A local artifacts destination the server cannot write fails here, in one line, rather
    than as a 500 on the first upload."""
    import os

    from notebook_tracker.errors import InvalidParameter

    if "://" in destination:
        return
    try:
        os.makedirs(destination, exist_ok=True)
    except OSError as error:
        raise InvalidParameter(
            f"Cannot create the artifacts destination {destination}: "
            f"{error.strerror or error}. Give a folder this user can write "
            "(--artifacts-destination)."
        ) from None
    if not os.access(destination, os.W_OK | os.X_OK):
        raise InvalidParameter(
            f"The artifacts destination {destination} is not writable by this user: give "
            "another folder (--artifacts-destination) or fix its permissions."
        )
