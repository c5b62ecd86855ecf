"""`notebook-tracker gc` deletes only inside the store's artifact roots, whatever the rows say.

Hostile rows are written straight into the SQLite database (as an older version, a bug or
someone with SQL access could), then gc runs: canaries outside the roots survive, a loopback
listener is never contacted, bystander runs inside the root keep their files, and every refused
run is reported and kept. Runs created through a real standalone server are purged against its
database and artifacts destination.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from attack_helpers import Canary, SsrfListener
from click.testing import CliRunner
from standalone_server import running_server

from notebook_tracker import env
from notebook_tracker.cli import main
from notebook_tracker.client import TrackingClient


def _gc(*args: str):
    return CliRunner().invoke(main, ["gc", *args], catch_exceptions=False)


def _set_artifact_uri(db: Path, run_id: str, uri: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?", (uri, run_id))


def _run_exists(db: Path, run_id: str) -> bool:
    with sqlite3.connect(db) as conn:
        found = conn.execute("SELECT 1 FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
    return found is not None


@pytest.fixture
def listener():
    ssrf = SsrfListener()
    yield ssrf
    ssrf.close()


def _hostile_uris(root: Path, outside: Path, run_id: str, port: int) -> dict[str, str]:
    """Artifact URIs a row could hold, each shaped like `<...>/<run_id>/artifacts` so that only
    real confinement (not a name check) stops them."""
    own = f"{run_id}/artifacts"
    return {
        "outside path": f"{outside}/{own}",
        "file uri": f"file://{outside}/{own}",
        "file uri with host": f"file://127.0.0.1{outside}/{own}",
        "dot-dot out of the root": f"{root}/../{outside.name}/{own}",
        "percent-encoded dot-dot": f"{root}/%2e%2e/{outside.name}/{own}",
        "double-encoded dot-dot": f"{root}/%252e%252e/{outside.name}/{own}",
        "backslash dot-dot": f"{root}/x\\..\\..\\{outside.name}/{own}",
        "NUL": f"{root}/1/{own}\x00{outside}",
        "query": f"{outside}/{own}?x=1",
        "fragment": f"file://{outside}/{own}#frag",
        "symlink inside the root": f"{root}/linked/{own}",
        "http to a listener": f"http://127.0.0.1:{port}/api/2.0/mlflow-artifacts/artifacts/{own}",
        "https to a listener": f"https://127.0.0.1:{port}/{own}",
        "ftp to a listener": f"ftp://127.0.0.1:{port}/{own}",
        "proxy with host and dot-dot": f"mlflow-artifacts://127.0.0.1:{port}/../{own}",
        "s3 bucket not a root": f"s3://someone-elses-bucket/{own}",
        "relative path": f"{outside.name}/{own}",
        "the root itself": str(root),
        "the proxy root itself": "mlflow-artifacts:/",
    }


def test_gc_skips_and_reports_runs_whose_artifacts_lie_outside_the_roots(
    tracking_uri, tmp_path, listener
):
    db = tmp_path / "tracker.db"
    root = tmp_path / "artifacts"
    client = TrackingClient(tracking_uri)
    exp = client.create_experiment("victims")

    bystander = client.create_run(exp).info.run_id
    client.log_text(bystander, "keep me", "kept.txt")
    legit = client.create_run(exp).info.run_id
    client.log_text(legit, "purge me", "gone.txt")
    legit_dir = Path(client.get_run(legit).info.artifact_uri)
    client.delete_run(legit)

    outside = tmp_path / "outside"
    (root / "linked").parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, root / "linked")
    hostile: dict[str, str] = {}
    canaries = []
    for case in _hostile_uris(root, outside, "RUNID", listener.port):
        run_id = client.create_run(exp).info.run_id
        client.delete_run(run_id)
        canaries.append(Canary(outside / run_id))
        uri = _hostile_uris(root, outside, run_id, listener.port)[case]
        _set_artifact_uri(db, run_id, uri)
        hostile[run_id] = case
    # A row naming another run's folder, inside the root: not this run's to delete.
    thief = client.create_run(exp).info.run_id
    client.delete_run(thief)
    _set_artifact_uri(db, thief, client.get_run(bystander).info.artifact_uri)
    hostile[thief] = "another run's folder"

    result = _gc()

    assert result.exit_code == 1
    assert f"Purged 1 deleted run(s); skipped {len(hostile)}" in result.stdout
    for run_id, case in hostile.items():
        assert f"Skipped run {run_id}" in result.stderr, case
        assert _run_exists(db, run_id), case
    assert "Allowed: a location inside" in result.stderr
    assert all(c.intact() for c in canaries)
    assert listener.received == []
    assert (Path(client.get_run(bystander).info.artifact_uri) / "kept.txt").read_text() == "keep me"
    assert not legit_dir.exists() and not _run_exists(db, legit)


def test_gc_deletes_in_an_allowed_root_only_when_asked(tracking_uri, tmp_path):
    db = tmp_path / "tracker.db"
    elsewhere = tmp_path / "team-share"
    client = TrackingClient(tracking_uri)
    exp = client.create_experiment("shared", artifact_location=str(elsewhere / "shared"))
    run_id = client.create_run(exp).info.run_id
    client.log_text(run_id, "x", "a.txt")
    run_dir = Path(client.get_run(run_id).info.artifact_uri)
    client.delete_run(run_id)

    refused = _gc()
    assert refused.exit_code == 1 and "--allowed-artifact-root" in refused.stderr
    assert (run_dir / "a.txt").exists() and _run_exists(db, run_id)

    allowed = _gc("--allowed-artifact-root", str(elsewhere))
    assert allowed.exit_code == 0 and "Purged 1 deleted run(s)" in allowed.stdout
    assert not run_dir.exists() and not _run_exists(db, run_id)


def _create_run_with_artifact(server, name: str) -> tuple[str, str]:
    status, body = server.json("POST", "/api/2.0/mlflow/experiments/create", {"name": name})
    assert status == 200, body
    exp_id = body["experiment_id"]
    status, body = server.json(
        "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": exp_id, "start_time": 1}
    )
    assert status == 200, body
    run_id = body["run"]["info"]["run_id"]
    artifact_uri = body["run"]["info"]["artifact_uri"]
    assert artifact_uri == f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"
    path = f"/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{run_id}/artifacts/model.txt"
    assert server.request("PUT", path, b"weights")[0] == 200
    assert server.json("POST", "/api/2.0/mlflow/runs/delete", {"run_id": run_id})[0] == 200
    return exp_id, run_id


@pytest.mark.parametrize("destination", ["beside the database", "elsewhere"])
def test_gc_purges_runs_created_through_a_standalone_server(tmp_path, monkeypatch, destination):
    monkeypatch.delenv(env.ARTIFACT_ROOT, raising=False)
    db = tmp_path / "tracker.db"
    store_uri = f"sqlite:///{db}"
    artifacts = tmp_path / ("artifacts" if destination == "beside the database" else "dest")
    explicit = None if destination == "beside the database" else str(artifacts)
    with running_server(tmp_path, store_uri, explicit, workers=1) as server:
        exp_id, run_id = _create_run_with_artifact(server, "served")
        run_dir = artifacts / exp_id / run_id / "artifacts"
        assert (run_dir / "model.txt").read_bytes() == b"weights"

        args = ["--backend-store-uri", store_uri]
        if explicit:
            args += ["--artifacts-destination", explicit]
        result = _gc(*args)

        assert result.exit_code == 0, result.output
        assert "Purged 1 deleted run(s)" in result.stdout
        assert not run_dir.exists()
        status, body = server.json("GET", f"/api/2.0/mlflow/runs/get?run_id={run_id}")
        assert status == 404, body


def test_gc_through_a_server_url_says_to_run_it_against_the_database(tmp_path, monkeypatch):
    monkeypatch.delenv(env.ARTIFACT_ROOT, raising=False)
    store_uri = f"sqlite:///{tmp_path / 'tracker.db'}"
    with running_server(tmp_path, store_uri, str(tmp_path / "dest"), workers=1) as server:
        result = _gc("--tracking-uri", server.url)
    assert result.exit_code == 1
    assert "--backend-store-uri" in result.stderr and "Traceback" not in result.output


def test_gc_reports_a_run_whose_artifacts_cannot_be_deleted_and_purges_the_rest(
    tracking_uri, tmp_path, monkeypatch
):
    import shutil

    import notebook_tracker.artifacts.local as local

    db = tmp_path / "tracker.db"
    client = TrackingClient(tracking_uri)
    exp = client.create_experiment("stuck")
    runs = [client.create_run(exp).info.run_id for _ in range(2)]
    for run_id in runs:
        client.log_text(run_id, "x", "a.txt")
        client.delete_run(run_id)
    stuck_dir = os.path.realpath(client.get_run(runs[0]).info.artifact_uri)
    real_rmtree = shutil.rmtree

    def rmtree(path, *args, **kwargs):
        if os.fspath(path) == stuck_dir:
            raise PermissionError(13, "Permission denied", stuck_dir)
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(local.shutil, "rmtree", rmtree)
    result = _gc()

    assert result.exit_code == 1
    assert f"Skipped run {runs[0]}" in result.stderr and "Permission denied" in result.stderr
    assert _run_exists(db, runs[0]) and not _run_exists(db, runs[1])


def test_gc_purges_runs_of_a_store_whose_artifact_root_was_given_relative(
    tracking_uri, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(env.ARTIFACT_ROOT, "relative-artifacts")
    client = TrackingClient(tracking_uri)
    run_id = client.create_run(client.create_experiment("rel")).info.run_id
    client.log_text(run_id, "x", "a.txt")
    run_dir = Path(client.get_run(run_id).info.artifact_uri)
    assert run_dir.is_absolute() and run_dir.is_relative_to(tmp_path / "relative-artifacts")
    client.delete_run(run_id)

    result = _gc()

    assert result.exit_code == 0, result.output
    assert not run_dir.exists()
