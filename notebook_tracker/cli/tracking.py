"""`notebook-tracker experiments|runs|gc`: thin commands over TrackingClient."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import click

from notebook_tracker.cli import tracking_uri_option

if TYPE_CHECKING:
    from notebook_tracker.client import TrackingClient
    from notebook_tracker.entities import Experiment

VIEW_TYPES = {"active": "ACTIVE_ONLY", "deleted": "DELETED_ONLY", "all": "ALL"}
view_option = click.option("--view", type=click.Choice(list(VIEW_TYPES)), default="active")


def _client(tracking_uri: str | None, *, create: bool = False) -> TrackingClient:
    """The client of the store these options name (see cli/store.py); only `create` starts one."""
    from notebook_tracker.cli.store import resolve_store_uri
    from notebook_tracker.client import TrackingClient

    return TrackingClient(resolve_store_uri(tracking_uri, create=create))


def _when(ms: int | None) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


@click.group()
def experiments() -> None:
    """List, create, rename, delete and restore experiments."""


@experiments.command("list")
@view_option
@tracking_uri_option
def experiments_list(view: str, tracking_uri: str | None) -> None:
    """List experiments."""
    view_type = VIEW_TYPES[view]
    client = _client(tracking_uri)
    found: list[Experiment] = []
    token: str | None = None
    while True:
        page = client.search_experiments(view_type=view_type, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            break
    rows = [
        [e.experiment_id, e.name, e.lifecycle_stage, _when(e.creation_time), e.artifact_location]
        for e in found
    ]
    click.echo(_table(["id", "name", "stage", "created", "artifact location"], rows))


@experiments.command("create")
@click.argument("name")
@click.option("--artifact-location", default=None, help="Where this experiment's artifacts go.")
@tracking_uri_option
def experiments_create(name: str, artifact_location: str | None, tracking_uri: str | None) -> None:
    """Create an experiment and print its id."""
    exp_id = _client(tracking_uri, create=True).create_experiment(name, artifact_location)
    click.echo(f"Created experiment '{name}' with id {exp_id}")


@experiments.command("rename")
@click.argument("experiment_id")
@click.argument("new_name")
@tracking_uri_option
def experiments_rename(experiment_id: str, new_name: str, tracking_uri: str | None) -> None:
    """Rename an experiment."""
    _client(tracking_uri).rename_experiment(experiment_id, new_name)
    click.echo(f"Renamed experiment {experiment_id} to '{new_name}'")


@experiments.command("delete")
@click.argument("experiment_id")
@tracking_uri_option
def experiments_delete(experiment_id: str, tracking_uri: str | None) -> None:
    """Delete an experiment (and mark its runs deleted); `restore` undoes it until `gc`."""
    _client(tracking_uri).delete_experiment(experiment_id)
    click.echo(f"Deleted experiment {experiment_id}")


@experiments.command("restore")
@click.argument("experiment_id")
@tracking_uri_option
def experiments_restore(experiment_id: str, tracking_uri: str | None) -> None:
    """Restore a deleted experiment and its runs."""
    _client(tracking_uri).restore_experiment(experiment_id)
    click.echo(f"Restored experiment {experiment_id}")


@click.group()
def runs() -> None:
    """List, describe, delete and restore runs."""


def _experiment_ids(client: TrackingClient, experiment: tuple[str, ...]) -> list[str]:
    from notebook_tracker.errors import NotFound

    if not experiment:
        return [e.experiment_id for e in client.search_experiments(max_results=50000)]
    ids = []
    for ref in experiment:
        exp = client.get_experiment_by_name(ref)
        if exp is None and ref.isdigit():
            exp = client.get_experiment(ref)
        if exp is None:
            raise NotFound(
                f"No experiment named or numbered {ref!r}: see `notebook-tracker experiments list`."
            )
        ids.append(exp.experiment_id)
    return ids


@runs.command("list")
@click.option(
    "-e", "--experiment", multiple=True, help="Experiment name or id (repeatable); default: all."
)
@click.option(
    "--filter",
    "filter_string",
    default="",
    help="e.g. \"metrics.acc > 0.9 and params.lr = '0.01'\"",
)
@click.option("--order-by", multiple=True, help='e.g. "metrics.acc DESC" (repeatable)')
@click.option("--max-results", default=100, show_default=True, type=int)
@view_option
@tracking_uri_option
def runs_list(
    experiment: tuple[str, ...],
    filter_string: str,
    order_by: tuple[str, ...],
    max_results: int,
    view: str,
    tracking_uri: str | None,
) -> None:
    """List runs as a table: id, name, status, start, then the params and metrics."""
    client = _client(tracking_uri)
    view_type = VIEW_TYPES[view]
    found = client.search_runs(
        _experiment_ids(client, experiment),
        filter_string,
        view_type,
        max_results,
        list(order_by) or None,
    )
    param_keys = sorted({k for r in found for k in r.data.params})[:6]
    metric_keys = sorted({k for r in found for k in r.data.metrics})[:6]
    headers = ["run_id", "name", "status", "started", *param_keys, *metric_keys]
    rows = [
        [
            r.info.run_id,
            r.info.run_name,
            r.info.status,
            _when(r.info.start_time),
            *(r.data.params.get(k, "") for k in param_keys),
            *(f"{r.data.metrics[k]:.6g}" if k in r.data.metrics else "" for k in metric_keys),
        ]
        for r in found
    ]
    click.echo(_table(headers, rows))


@runs.command("describe")
@click.argument("run_id")
@tracking_uri_option
def runs_describe(run_id: str, tracking_uri: str | None) -> None:
    """Print a run as JSON: info, params, latest metrics and tags."""
    click.echo(
        json.dumps(_client(tracking_uri).get_run(run_id).to_dictionary(), indent=2, default=str)
    )


@runs.command("delete")
@click.argument("run_id")
@tracking_uri_option
def runs_delete(run_id: str, tracking_uri: str | None) -> None:
    """Delete a run; `restore` undoes it until `gc`."""
    _client(tracking_uri).delete_run(run_id)
    click.echo(f"Deleted run {run_id}")


@runs.command("restore")
@click.argument("run_id")
@tracking_uri_option
def runs_restore(run_id: str, tracking_uri: str | None) -> None:
    """Restore a deleted run."""
    _client(tracking_uri).restore_run(run_id)
    click.echo(f"Restored run {run_id}")


@click.command()
@click.option(
    "--older-than", default=None, help="Only runs deleted longer ago than this, e.g. 30d, 12h, 45m."
)
@click.option(
    "--run-ids", default=None, help="Comma-separated deleted runs to purge (default: all deleted)."
)
@click.option(
    "--tracking-uri",
    "--backend-store-uri",
    "tracking_uri",
    envvar="NOTEBOOK_TRACKER_URI",
    default=None,
    help="The database: sqlite:///path.db or postgresql://... (a server's --backend-store-uri). "
    "Default: $NOTEBOOK_TRACKER_URI, else the nearest .notebook_tracker/ here or above.",
)
@click.option(
    "--artifacts-destination",
    default=None,
    help="The artifacts destination of the server in front of this database, where its "
    "mlflow-artifacts:/ runs live. Default for SQLite: the artifacts folder beside the database.",
)
@click.option(
    "--allowed-artifact-root",
    "allowed_artifact_roots",
    multiple=True,
    help="Another directory or s3://bucket/prefix gc may delete in (repeatable).",
)
def gc(
    older_than: str | None,
    run_ids: str | None,
    tracking_uri: str | None,
    artifacts_destination: str | None,
    allowed_artifact_roots: tuple[str, ...],
) -> None:
    """Purge deleted runs for good: their metadata and their artifacts.

    Artifacts are deleted only inside the store's artifact roots; a run whose location lies
    elsewhere is skipped and reported (exit status 1), the others are purged.
    """
    from notebook_tracker import gc as collector

    client = _client(tracking_uri)
    roots = collector.store_roots(
        client.store, client.tracking_uri, artifacts_destination, allowed_artifact_roots
    )
    wanted = [r.strip() for r in run_ids.split(",") if r.strip()] if run_ids else None
    report = collector.purge_deleted_runs(
        client.store, roots, _parse_age(older_than) if older_than else None, wanted
    )
    for run_id, why in report.skipped:
        click.echo(f"Skipped run {run_id} (kept, nothing deleted): {why}", err=True)
    skipped = f"; skipped {len(report.skipped)}" if report.skipped else ""
    click.echo(f"Purged {len(report.purged)} deleted run(s){skipped}")
    if report.skipped:
        raise SystemExit(1)


def _parse_age(text: str) -> int:
    from notebook_tracker.errors import InvalidParameter

    units = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise InvalidParameter(
            f"Invalid --older-than {text!r}: use a number and a unit, e.g. 30d, 12h, 45m, 10s."
        )
    return int(text[:-1]) * units[text[-1]]
