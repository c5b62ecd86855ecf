"""Purging deleted runs for good: their artifacts, then their rows, only inside owned roots.

A deleted run's artifact URI comes from the database, which a client of a server (through an
experiment's location) or anyone with SQL access may have shaped. So before anything is
deleted the URI goes through the same `ArtifactRoots.confine` a server uses, and the directory
it names must be the run's own (`.../<run_id>/artifacts`, after resolving symlinks), never a
root or another run's folder. A run failing either check, or whose artifacts cannot be deleted,
is skipped, rows and all, and reported; the others are purged.

Runs created through a standalone server have `mlflow-artifacts:/...` URIs: they resolve
against the server's artifacts destination, which for a SQLite store defaults to the folder
beside the database, as `notebook-tracker server` does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from notebook_tracker import config
from notebook_tracker.artifacts.roots import PROXY_SCHEME, ArtifactRoots
from notebook_tracker.errors import InvalidParameter, TrackerError
from notebook_tracker.store.base import TrackingStore

HINT = (
    "gc deletes only inside these; pass --artifacts-destination (the server's) or "
    "--allowed-artifact-root to add one."
)


@dataclass
class GcReport:
    purged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (run_id, why)


def store_roots(
    store: TrackingStore,
    tracking_uri: str,
    artifacts_destination: str | None = None,
    allowed: Iterable[str] = (),
) -> ArtifactRoots:
    """The roots a store owns: its default artifact root, the artifacts destination of a server
    in front of it (default for SQLite: beside the database) and the roots allowed explicitly."""
    own = store.artifact_root
    roots = [own] if own and not own.startswith(PROXY_SCHEME) else []
    destination = artifacts_destination
    if destination is None and tracking_uri.startswith("sqlite:"):
        destination = config.default_artifact_root(tracking_uri)
    return ArtifactRoots([*roots, *allowed], proxy_root=destination, hint=HINT)


def _run_directory(roots: ArtifactRoots, run_id: str, artifact_uri: str) -> str:
    """The confined storage URI of a run's own artifact directory, or InvalidParameter."""
    target = roots.confine(artifact_uri)
    checked = target if target.startswith("s3://") else os.path.realpath(target)
    if not checked.rstrip("/").endswith(f"/{run_id}/artifacts"):
        raise InvalidParameter(
            f"Artifact location {artifact_uri!r} resolves to {checked!r}, which is not the run's "
            f"own folder (.../{run_id}/artifacts)."
        )
    return target


def purge_deleted_runs(
    store: TrackingStore,
    roots: ArtifactRoots,
    older_than_ms: int | None = None,
    run_ids: Sequence[str] | None = None,
) -> GcReport:
    """Purge deleted runs (all, or `run_ids`, optionally only those deleted `older_than_ms` ago);
    a run whose artifacts lie outside `roots` is skipped, not purged."""
    from notebook_tracker.artifacts import get_artifact_repository

    try:
        deleted = store.deleted_runs(older_than_ms)
    except NotImplementedError:
        raise InvalidParameter(
            "gc works on a tracking server's database, not through its HTTP API: run it where "
            "the database is reachable, e.g. notebook-tracker gc --backend-store-uri "
            "sqlite:///path/tracker.db --artifacts-destination <the server's destination>."
        ) from None
    if run_ids is not None:
        wanted = set(run_ids)
        missing = wanted - {r.run_id for r in deleted}
        if missing:
            raise InvalidParameter(
                f"Not deleted (or unknown) runs: {', '.join(sorted(missing))}; delete them first."
            )
        deleted = [r for r in deleted if r.run_id in wanted]
    report = GcReport()
    for info in deleted:
        if info.artifact_uri:
            try:
                target = _run_directory(roots, info.run_id, info.artifact_uri)
            except InvalidParameter as exc:
                report.skipped.append((info.run_id, exc.message))
                continue
            try:
                get_artifact_repository(target).delete_artifacts()
            except (TrackerError, OSError) as exc:
                # One unreachable folder or bucket must not stop the others being purged.
                reason = exc.message if isinstance(exc, TrackerError) else str(exc)
                report.skipped.append((info.run_id, f"Could not delete {target!r}: {reason}"))
                continue
        store.purge_run(info.run_id)
        report.purged.append(info.run_id)
    return report
