"""`notebook-tracker models serve|predict|list|versions|alias|register`: thin commands."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from notebook_tracker.cli import tracking_uri_option

if TYPE_CHECKING:
    from notebook_tracker.entities.registry import RegisteredModel
    from notebook_tracker.models.registry import RegistryClient


def _registry(tracking_uri: str | None, *, create: bool = False) -> RegistryClient:
    """The registry of the store these options name (see cli/store.py); only `create` starts one."""
    from notebook_tracker.cli.store import resolve_store_uri
    from notebook_tracker.models.registry import RegistryClient

    return RegistryClient(resolve_store_uri(tracking_uri, create=create))


def _when(ms: int | None) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    head = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    return "\n".join([head, "  ".join("-" * w for w in widths), *lines])


@click.group()
def models() -> None:
    """Serve models, score files, and manage the model registry."""


@models.command("serve")
@click.option("-m", "--model-uri", required=True, help="runs:/, models:/, s3:// or a local path.")
@click.option("-p", "--port", type=int, default=5000, show_default=True)
@click.option("-h", "--host", default="127.0.0.1", show_default=True)
@click.option("-w", "--workers", type=int, default=1, show_default=True, help="Processes.")
@click.option("--max-body-mb", type=float, default=50, show_default=True)
@tracking_uri_option
def serve(
    model_uri: str,
    port: int,
    host: str,
    workers: int,
    max_body_mb: float,
    tracking_uri: str | None,
) -> None:
    """Serve a model over HTTP with MLflow's scoring protocol (POST /invocations)."""
    from notebook_tracker.models.scoring.server import serve as run_server
    from notebook_tracker.models.uris import download_model

    model_dir = download_model(model_uri, tracking_uri=tracking_uri)
    click.echo(
        f"Serving {model_uri} at http://{host}:{port}/invocations "
        f"({workers} worker{'s' if workers != 1 else ''}); Ctrl-C stops.",
        err=True,
    )
    try:
        run_server(
            model_dir,
            host=host,
            port=port,
            workers=max(1, workers),
            max_body_bytes=int(max_body_mb * 1024 * 1024),
            model_uri=model_uri,
        )
    except KeyboardInterrupt:
        pass
    except OSError as error:
        from notebook_tracker.cli.errors import is_listen_error, listen_error

        if is_listen_error(error, port):
            raise listen_error(error, host, port) from None
        raise


@models.command("predict")
@click.option("-m", "--model-uri", required=True)
@click.option("-i", "--input-path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output-path", default=None, help="Write here instead of stdout.")
@click.option(
    "-t",
    "--content-type",
    type=click.Choice(["json", "csv"]),
    default=None,
    help="Input format; default from the file's extension.",
)
@tracking_uri_option
def predict(
    model_uri: str,
    input_path: str,
    output_path: str | None,
    content_type: str | None,
    tracking_uri: str | None,
) -> None:
    """Score a CSV or JSON file (the same payloads as /invocations); prints the predictions."""
    from notebook_tracker.models.api import load_model
    from notebook_tracker.models.scoring import payloads

    kind = content_type or ("csv" if input_path.lower().endswith(".csv") else "json")
    media = payloads.CSV_TYPE if kind == "csv" else payloads.JSON_TYPE
    model = load_model(model_uri, tracking_uri=tracking_uri)
    schema = model.signature.inputs if model.signature is not None else None
    data, params = payloads.parse_body(Path(input_path).read_bytes(), media, schema)
    try:
        result = model.predict(data, params)
    except Exception as exc:  # a TrackerError is reported by the group; the model's own too
        from notebook_tracker.errors import TrackerError

        if isinstance(exc, TrackerError):
            raise
        raise TrackerError(f"The model failed: {type(exc).__name__}: {exc}") from exc
    body = payloads.predictions_body(result)
    if output_path:
        Path(output_path).write_bytes(body)
    else:
        sys.stdout.write(body.decode() + "\n")


@models.command("list")
@click.option("--filter", "filter_string", default=None, help="e.g. \"name LIKE 'churn%'\"")
@tracking_uri_option
def list_models(filter_string: str | None, tracking_uri: str | None) -> None:
    """List registered models with their latest version and aliases."""
    client = _registry(tracking_uri)
    found: list[RegisteredModel] = []
    token: str | None = None
    while True:
        page = client.search_registered_models(filter_string, 1000, None, token)
        found.extend(page)
        token = page.token
        if not token:
            break
    rows = []
    for m in found:
        latest = max((v.version for v in m.latest_versions), default=None)
        aliases = ", ".join(f"{a}->v{v}" for a, v in sorted(m.aliases.items()))
        rows.append([m.name, str(latest or "-"), aliases or "-", _when(m.last_updated_timestamp)])
    click.echo(_table(["name", "latest", "aliases", "updated"], rows))


@models.command("versions")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@tracking_uri_option
def versions(name: str, as_json: bool, tracking_uri: str | None) -> None:
    """List the versions of a registered model."""
    client = _registry(tracking_uri)
    client.get_registered_model(name)
    found = list(client.search_model_versions(f"name = '{name.replace(chr(39), chr(39) * 2)}'"))
    if as_json:
        click.echo(json.dumps([v.to_dict() for v in found], indent=2))
        return
    rows = [
        [
            str(v.version),
            ", ".join(v.aliases) or "-",
            v.run_id or "-",
            _when(v.creation_timestamp),
            v.source,
        ]
        for v in found
    ]
    click.echo(_table(["version", "aliases", "run", "created", "source"], rows))


@models.command("alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version", required=False)
@click.option("--delete", is_flag=True, help="Remove the alias instead of setting it.")
@tracking_uri_option
def alias(
    name: str, alias: str, version: str | None, delete: bool, tracking_uri: str | None
) -> None:
    """Point ALIAS of model NAME at VERSION (or show it, or --delete it)."""
    client = _registry(tracking_uri)
    if delete:
        client.delete_registered_model_alias(name, alias)
        click.echo(f"Removed alias {alias!r} of {name}.")
    elif version is None:
        mv = client.get_model_version_by_alias(name, alias)
        click.echo(f"models:/{name}@{alias} -> version {mv.version} ({mv.source})")
    else:
        client.set_registered_model_alias(name, alias, version)
        click.echo(f"models:/{name}@{alias} -> version {version}")


@models.command("register")
@click.option("-m", "--model-uri", required=True)
@click.option("-n", "--name", required=True)
@tracking_uri_option
def register(model_uri: str, name: str, tracking_uri: str | None) -> None:
    """Register the model at MODEL_URI as a new version of NAME."""
    mv = _registry(tracking_uri, create=True).register_model(model_uri, name)
    click.echo(f"Registered {name} version {mv.version} (models:/{name}/{mv.version}).")
