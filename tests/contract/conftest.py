"""Every implementation of an interface runs the same contract tests.

Stores (tracking, model registry, logged models): SQLite, PostgreSQL, and REST through a real
`notebook-tracker server` process (one per session, on SQLite; tests name their own
experiments and models, so they do not see each other's). Artifact repositories: local, S3
(moto's server) and the HTTP artifact proxy of that same server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from standalone_server import ServerProcess, running_server

from notebook_tracker.artifacts import get_artifact_repository
from notebook_tracker.artifacts.base import ArtifactRepository
from notebook_tracker.store import factory


@pytest.fixture(scope="session")
def contract_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server process (one worker) on a SQLite store, with an artifact proxy."""
    root = tmp_path_factory.mktemp("contract-server")
    store = f"sqlite:///{root / 'server.db'}"
    with running_server(root, store, artifacts=str(root / "artifacts"), workers=1) as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "rest"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A tracking URI of each implementation in turn; stores open from it via the factory."""
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'tracker.db'}"
    elif request.param == "postgresql":
        uri = request.getfixturevalue("postgres_uri")
    else:
        uri = request.getfixturevalue("contract_server").url
    yield uri
    factory.forget_stores()


@pytest.fixture
def unique() -> str:
    """A name no other test of the session uses (the REST server is shared)."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3), "http"])
def artifact_repo(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactRepository:
    """An empty repository of each implementation in turn."""
    name = uuid.uuid4().hex[:12]
    if request.param == "local":
        return get_artifact_repository(str(tmp_path / "artifacts" / name))
    if request.param == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        return get_artifact_repository(f"s3://{bucket}/contract/{name}")
    server = request.getfixturevalue("contract_server")
    return get_artifact_repository(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/c/{name}")
