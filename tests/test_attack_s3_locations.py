"""Artifact-location confinement when the server's artifacts live in S3 (moto's real server).

A standalone server whose destination is `s3://<bucket>/dest`: locations in another bucket, in
a sibling prefix (`dest-sibling`, which a string-prefix check would let through) or climbing
out with `..` are refused at creation and when read back from hostile rows; `gc` deletes a
run's objects under the destination and leaves canary objects elsewhere in place.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from attack_helpers import SECRET
from click.testing import CliRunner
from standalone_server import ServerProcess, running_server

from notebook_tracker.cli import main

pytestmark = pytest.mark.s3

MLFLOW = "/api/2.0/mlflow"
TOKEN = "s3-attacker-" + uuid.uuid4().hex


@pytest.fixture
def s3(s3_endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint)


@pytest.fixture
def other_bucket(s3) -> str:
    name = f"nbt-other-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


CANARY_KEYS = ["secret/secret.txt", "dest-sibling/RUN/artifacts/secret.txt"]


@pytest.fixture
def served(tmp_path, s3, s3_bucket, other_bucket) -> Iterator[tuple[ServerProcess, Path]]:
    for key in CANARY_KEYS:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=SECRET.encode())
    s3.put_object(Bucket=other_bucket, Key="x/secret.txt", Body=SECRET.encode())
    db = tmp_path / "tracker.db"
    dest = f"s3://{s3_bucket}/dest"
    with running_server(tmp_path, f"sqlite:///{db}", dest, workers=1, token=TOKEN) as server:
        yield server, db
    for key in CANARY_KEYS:
        assert s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == SECRET.encode()
    assert s3.get_object(Bucket=other_bucket, Key="x/secret.txt")["Body"].read() == SECRET.encode()


def _create(server: ServerProcess, location: str) -> tuple[int, dict]:
    body = {"name": "e" + uuid.uuid4().hex, "artifact_location": location}
    return server.json("POST", f"{MLFLOW}/experiments/create", body)


def _run(server: ServerProcess, experiment_id: str) -> dict:
    status, body = server.json(
        "POST", f"{MLFLOW}/runs/create", {"experiment_id": experiment_id, "start_time": 1}
    )
    assert status == 200, body
    return body["run"]["info"]


def test_s3_locations_outside_the_destination_are_refused(served, s3_bucket, other_bucket):
    server, _ = served
    for location in [
        f"s3://{s3_bucket}",
        f"s3://{s3_bucket}/secret",
        f"s3://{s3_bucket}/dest-sibling",
        f"s3://{s3_bucket}/dest/../secret",
        f"s3://{s3_bucket}/dest/%2e%2e/secret",
        f"s3://{s3_bucket}/dest/x?versionId=1",
        f"s3://user@{s3_bucket}/dest/x",
        f"s3://{other_bucket}/x",
        f"s3://{s3_bucket.upper()}/dest/x",
    ]:
        status, body = _create(server, location)
        assert status == 400, (location, body)
        assert f"s3://{s3_bucket}/dest" in body["message"], body


def test_s3_locations_inside_the_destination_are_served(served, s3, s3_bucket):
    server, _ = served
    status, body = _create(server, f"S3://{s3_bucket}//dest/team/")
    assert status == 200, body
    exp_id = body["experiment_id"]
    status, got = server.json("GET", f"{MLFLOW}/experiments/get?experiment_id={exp_id}")
    assert got["experiment"]["artifact_location"] == f"s3://{s3_bucket}/dest/team"
    run = _run(server, body["experiment_id"])
    key = f"dest/team/{run['run_id']}/artifacts/model.txt"
    s3.put_object(Bucket=s3_bucket, Key=key, Body=b"weights")
    status, listing = server.json("GET", f"{MLFLOW}/artifacts/list?run_id={run['run_id']}")
    assert status == 200 and [f["path"] for f in listing["files"]] == ["model.txt"]


def _hostile_rows(bucket: str, other: str) -> list[str]:
    return [
        f"s3://{bucket}/secret",
        f"s3://{bucket}/dest-sibling/RUN/artifacts",
        f"s3://{bucket}/dest/../secret",
        f"s3://{other}/x",
    ]


def test_hostile_s3_rows_are_never_listed_or_read(served, s3_bucket, other_bucket):
    server, db = served
    status, body = _create(server, "mlflow-artifacts:/e")
    for uri in _hostile_rows(s3_bucket, other_bucket):
        run_id = _run(server, body["experiment_id"])["run_id"]
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?", (uri, run_id))
        for path in (
            f"{MLFLOW}/artifacts/list?run_id={run_id}",
            f"/api/runs/{run_id}/artifacts",
            f"/api/runs/{run_id}/artifacts/raw/secret.txt",
        ):
            status, headers, raw = server.request("GET", path)
            assert status == 400, (uri, path, raw[:200])
            assert SECRET.encode() not in raw


def test_gc_purges_s3_runs_inside_the_destination_and_skips_hostile_rows(
    served, s3, s3_bucket, other_bucket
):
    server, db = served
    status, body = _create(server, "mlflow-artifacts:/g")
    legit = _run(server, body["experiment_id"])["run_id"]
    legit_key = f"dest/g/{legit}/artifacts/model.txt"
    s3.put_object(Bucket=s3_bucket, Key=legit_key, Body=b"weights")
    hostile = []
    for uri in _hostile_rows(s3_bucket, other_bucket):
        run_id = _run(server, body["experiment_id"])["run_id"]
        with sqlite3.connect(db) as conn:
            conn.execute(
                "UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?",
                (uri.replace("RUN", run_id), run_id),
            )
        hostile.append(run_id)
    for run_id in [legit, *hostile]:
        assert server.json("POST", f"{MLFLOW}/runs/delete", {"run_id": run_id})[0] == 200
    for key in CANARY_KEYS:  # shaped like the hostile runs' own folders
        for run_id in hostile:
            s3.put_object(Bucket=s3_bucket, Key=key.replace("RUN", run_id), Body=SECRET.encode())

    result = CliRunner().invoke(
        main,
        ["gc", "--backend-store-uri", f"sqlite:///{db}",
         "--artifacts-destination", f"s3://{s3_bucket}/dest"],
        catch_exceptions=False,
    )  # fmt: skip

    assert result.exit_code == 1, result.output
    assert f"Purged 1 deleted run(s); skipped {len(hostile)}" in result.stdout
    assert "Contents" not in s3.list_objects_v2(Bucket=s3_bucket, Prefix=f"dest/g/{legit}/")
    for run_id in hostile:
        assert f"Skipped run {run_id}" in result.stderr
        key = f"dest-sibling/{run_id}/artifacts/secret.txt"
        assert s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == SECRET.encode()
