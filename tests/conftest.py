"""Shared fixtures: real PostgreSQL databases, moto's S3 server, isolated tracking URIs.

A fixture whose service is absent skips its test with a reason; ``require_all`` turns that
skip into a failure when ``NOTEBOOK_TRACKER_REQUIRE_ALL=1`` (CI sets it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import free_port, fresh_postgres_database, require_service, wait_until

from notebook_tracker import env

if TYPE_CHECKING:
    from notebook_tracker.client import TrackingClient

pytest_plugins = ["pytester", "require_all", "pytest_jupyter.jupyter_server"]

# Every process the tests start skips one slow third-party import (why: fast_imports/).
_FAST_IMPORTS = str(Path(__file__).parent / "fast_imports")
if _FAST_IMPORTS not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (_FAST_IMPORTS, os.environ.get("PYTHONPATH", "")) if p
    )

S3_TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


_WARM_STARTS: list = []  # what the selected tests will use, until begun


def pytest_collection_finish(session: pytest.Session) -> None:
    """Note the selected tests' slow session setup to begin in the background (warm_start.py)."""
    if session.config.option.collectonly:
        return
    for item in session.items:
        for warm in getattr(getattr(item, "module", None), "WARM_STARTS", ()):
            if warm not in _WARM_STARTS and warm.fixture in getattr(item, "fixturenames", ()):
                _WARM_STARTS.append(warm)


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Begun with the first test outside tests/e2e: the browser tests, which come first, keep
    # both cores; minutes of other tests still run before the first test that needs these.
    if _WARM_STARTS and "e2e" not in item.path.parts:
        for warm in _WARM_STARTS:
            warm.begin()
        _WARM_STARTS.clear()


def pytest_sessionfinish() -> None:
    from warm_start import close_all

    close_all()


def _reset_fluent_state() -> None:
    try:
        from notebook_tracker import fluent
    except ImportError:
        return
    reset = getattr(fluent, "_reset_for_tests", None)
    if reset is not None:
        reset()


@pytest.fixture
def tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A SQLite tracking store in ``tmp_path``, set as ``NOTEBOOK_TRACKER_URI``.

    Artifacts go to ``tmp_path/artifacts``; no experiment or run leaks in from the
    environment, and the fluent API's state is reset before and after the test.
    """
    uri = f"sqlite:///{tmp_path / 'tracker.db'}"
    monkeypatch.setenv(env.TRACKING_URI, uri)
    monkeypatch.setenv(env.ARTIFACT_ROOT, str(tmp_path / "artifacts"))
    for name in (env.EXPERIMENT_NAME, env.EXPERIMENT_ID, env.RUN_ID):
        monkeypatch.delenv(name, raising=False)
    _reset_fluent_state()
    yield uri
    _reset_fluent_state()


@pytest.fixture(scope="session")
def sidebar_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree's wheel, sidebar included: built once per session (pip wheel takes
    seconds), for the wheel's own tests and the browser tests' Jupyter data dir."""
    import shutil

    from sidebar_wheel import ROOT, build_wheel

    prebuilt = ROOT / "notebook_tracker/labextension/package.json"
    if shutil.which("node") is None and not prebuilt.exists():
        require_service("Node.js is needed to build the sidebar into the wheel")
    return build_wheel(tmp_path_factory.mktemp("wheel"))


# --- PostgreSQL --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _postgres_server_uri() -> str:
    """The URI of the test server from the environment, checked once per session."""
    base = os.environ.get(env.TEST_POSTGRES_URI)
    if not base:
        require_service(f"no PostgreSQL server: set {env.TEST_POSTGRES_URI} (bash .ci/run does)")
    try:
        import psycopg2
    except ImportError:
        require_service("psycopg2 is not installed: pip install -e '.[postgres]'")
    try:
        psycopg2.connect(base, connect_timeout=5).close()
    except psycopg2.Error as exc:
        require_service(f"PostgreSQL at {env.TEST_POSTGRES_URI} is unreachable: {exc}")
    return base


@pytest.fixture
def postgres_uri(_postgres_server_uri: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test only, dropped afterwards."""
    with fresh_postgres_database(_postgres_server_uri) as uri:
        yield uri


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URI of each backend in turn: a SQLite file in ``tmp_path``, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    return request.getfixturevalue("postgres_uri")


@pytest.fixture
def client(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TrackingClient]:
    """A client of `store_uri` (each backend in turn; a module may override `store_uri`), set
    as the fluent API's store too; artifacts in ``tmp_path/artifacts``, no experiment or run
    from the environment, the fluent state and the cached stores reset after."""
    from notebook_tracker.client import TrackingClient
    from notebook_tracker.store import forget_stores

    monkeypatch.setenv(env.TRACKING_URI, store_uri)
    monkeypatch.setenv(env.ARTIFACT_ROOT, str(tmp_path / "artifacts"))
    for name in (env.EXPERIMENT_NAME, env.EXPERIMENT_ID, env.RUN_ID):
        monkeypatch.delenv(name, raising=False)
    _reset_fluent_state()
    yield TrackingClient(store_uri)
    _reset_fluent_state()
    forget_stores()


# --- S3 (moto's standalone server) -------------------------------------------------------


def _answers_http(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except OSError:
        return False
    return True


def _start_moto(log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: proc.poll() is not None or _answers_http(f"{endpoint}/moto-api/"),
            timeout=60,
            what=f"moto server on {endpoint}",
        )
    except TimeoutError:
        proc.kill()
        raise
    if proc.poll() is not None:
        raise RuntimeError(f"moto server exited early:\n{log_path.read_text(errors='replace')}")
    return proc, endpoint


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of an S3-protocol endpoint on loopback, with test credentials in the environment.

    Uses ``NOTEBOOK_TRACKER_TEST_S3_ENDPOINT`` when set; otherwise starts moto's standalone
    server for the session. Sets ``NOTEBOOK_TRACKER_S3_ENDPOINT_URL`` and AWS_* test
    credentials, so code under test and the processes it starts reach the same server.
    """
    endpoint = os.environ.get(env.TEST_S3_ENDPOINT)
    proc = None
    if not endpoint:
        try:
            import moto.server  # noqa: F401
        except ImportError:
            require_service("moto's server is not installed: pip install 'moto[server]'")
        log_path = tmp_path_factory.mktemp("moto") / "moto.log"
        proc, endpoint = _start_moto(log_path)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in S3_TEST_CREDENTIALS.items():
            mp.setenv(name, value)
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        # Keep a developer's own AWS configuration out of the tests.
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        mp.setenv(env.S3_ENDPOINT_URL, endpoint)
        try:
            yield endpoint
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """Name of a new, empty bucket on ``s3_endpoint``."""
    import boto3

    name = f"nbt-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def loop_commits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop's commit record as a shared worker starts it: open, nothing counted (a slow
    loop commit of another test sends a worker's writes to its writer thread for a second)."""
    from notebook_tracker.server.mlflow_api import sync_calls

    monkeypatch.setattr(sync_calls, "_loop_closed_until", 0.0)
    monkeypatch.setattr(sync_calls, "_window", sync_calls.CommitWindow())
    monkeypatch.setattr(sync_calls, "_tracked", False)
