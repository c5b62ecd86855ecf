"""The test infrastructure itself: REQUIRE_ALL, the PostgreSQL fixture, the S3 fixture."""

from __future__ import annotations

import uuid

import pytest

from notebook_tracker import env

SKIPPING_TESTS = """
import pytest

def test_skip_call():
    pytest.skip("no widget service here")

@pytest.mark.skip(reason="marker says no")
def test_skip_marker():
    pass

@pytest.mark.skipif(True, reason="condition says no")
def test_skipif_marker():
    pass

def test_importorskip():
    pytest.importorskip("a_module_that_does_not_exist_anywhere")

@pytest.mark.xfail(reason="known bug", strict=True)
def test_expected_failure():
    assert False

def test_passes():
    pass
"""


def _run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "require_all", "-p", "no:cacheprovider", "-ra", *args)


def test_skips_stay_skips_without_require_all(pytester, monkeypatch):
    monkeypatch.delenv(env.REQUIRE_ALL, raising=False)
    pytester.makepyfile(test_inner=SKIPPING_TESTS)
    result = _run_inner(pytester)
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


def test_every_kind_of_skip_fails_under_require_all(pytester, monkeypatch):
    monkeypatch.setenv(env.REQUIRE_ALL, "1")
    pytester.makepyfile(test_inner=SKIPPING_TESTS)
    result = _run_inner(pytester)
    # Marker skips happen in setup, so they are reported as errors; both fail the run.
    result.assert_outcomes(passed=1, failed=2, errors=2, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*REQUIRE_ALL=1 turns this skip into a failure*no widget*"])
    result.stdout.fnmatch_lines(["*turns this skip into a failure*marker says no*"])


def test_module_level_skip_fails_under_require_all(pytester, monkeypatch):
    monkeypatch.setenv(env.REQUIRE_ALL, "1")
    pytester.makepyfile(
        test_inner="""
        import pytest
        pytest.importorskip("a_module_that_does_not_exist_anywhere")

        def test_never_collected():
            pass
        """
    )
    result = _run_inner(pytester)
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*turns this skip into a failure*a_module_that_does_not*"])


def test_require_service_fails_under_require_all(pytester, monkeypatch):
    pytester.makepyfile(
        test_inner="""
        from helpers import require_service

        def test_needs_service():
            require_service("the frobnicator is not running")
        """
    )
    monkeypatch.delenv(env.REQUIRE_ALL, raising=False)
    _run_inner(pytester).assert_outcomes(skipped=1)
    monkeypatch.setenv(env.REQUIRE_ALL, "1")
    result = _run_inner(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the frobnicator is not running*"])


def _psycopg2_engine(uri: str):
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the project ships psycopg2.
    import sqlalchemy as sa

    return sa.create_engine(sa.make_url(uri).set(drivername="postgresql+psycopg2"))


@pytest.mark.postgres
def test_postgres_uri_is_an_empty_database_usable_by_sqlalchemy(postgres_uri):
    import sqlalchemy as sa

    assert postgres_uri.startswith("postgresql://")
    engine = _psycopg2_engine(postgres_uri)
    try:
        assert sa.inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE probe (id integer PRIMARY KEY, name text)"))
            conn.execute(sa.text("INSERT INTO probe VALUES (1, 'one')"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM probe")).scalar_one() == "one"
    finally:
        engine.dispose()


_SEEN_DATABASES: set[str] = set()


@pytest.mark.postgres
@pytest.mark.parametrize("attempt", [1, 2])
def test_tables_from_one_test_are_invisible_to_the_next(postgres_uri, attempt):
    import sqlalchemy as sa

    engine = _psycopg2_engine(postgres_uri)
    try:
        with engine.begin() as conn:
            database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
            conn.execute(sa.text("CREATE TABLE runs (id integer)"))  # fails if left over
    finally:
        engine.dispose()
    assert database not in _SEEN_DATABASES
    _SEEN_DATABASES.add(database)


@pytest.mark.postgres
def test_postgres_database_is_dropped_despite_open_connections(request):
    import sqlalchemy as sa

    engines: list[sa.Engine] = []
    # Registered before the fixture, so it runs after the fixture has dropped the database.
    request.addfinalizer(lambda: [engine.dispose() for engine in engines])
    engines.append(_psycopg2_engine(request.getfixturevalue("postgres_uri")))
    leaked = engines[0].connect()
    assert leaked.execute(sa.text("SELECT 1")).scalar_one() == 1


def test_store_uri_names_a_supported_backend(store_uri):
    assert store_uri.split(":", 1)[0] in {"sqlite", "postgresql"}


@pytest.mark.s3
def test_s3_endpoint_accepts_put_and_get(s3_endpoint, s3_bucket):
    import os

    import boto3

    assert os.environ[env.S3_ENDPOINT_URL] == s3_endpoint
    assert s3_endpoint.startswith("http://127.0.0.1:")
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    key = f"runs/{uuid.uuid4().hex}/model.bin"
    s3.put_object(Bucket=s3_bucket, Key=key, Body=b"\x00weights\xff")
    assert s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == b"\x00weights\xff"
    listed = s3.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [obj["Key"] for obj in listed] == [key]


def test_tracking_uri_points_at_a_sqlite_file_in_tmp_path(tracking_uri, tmp_path):
    import os

    assert os.environ[env.TRACKING_URI] == tracking_uri
    assert tracking_uri == f"sqlite:///{tmp_path / 'tracker.db'}"
