"""The first-write path (store/sqlite_first_write.py): a fresh process's first run written with
the stdlib sqlite3 module must be the same rows, under the same rules, as the SQLAlchemy store
writes, and must hand anything it cannot do to that store."""

from __future__ import annotations

import os
import sqlite3
import textwrap

import pytest
from helpers import chunk_count, run_fresh_python

from notebook_tracker.entities import Metric, Param, RunStatus, RunTag
from notebook_tracker.errors import InvalidParameter, NotFound, StoreUnavailable
from notebook_tracker.store import factory, schema, sqlite_rows
from notebook_tracker.store.metric_staging import STAGED_COLUMNS
from notebook_tracker.store.sql import SqlStore
from notebook_tracker.store.sqlite_first_write import FirstWriteStore, head_revision

TAGS = {"mlflow.user": "ann", "mlflow.source.name": "train.py", "team": "vision"}


@pytest.fixture
def uri(tracking_uri: str) -> str:
    SqlStore(tracking_uri)  # an existing store: the fast path's case
    factory.forget_stores()
    return tracking_uri


@pytest.fixture
def fast(uri: str, monkeypatch: pytest.MonkeyPatch) -> FirstWriteStore:
    store = FirstWriteStore.open(uri)
    assert store is not None
    # Kept on the fast path: in a process that has SQLAlchemy, the background open would
    # take over within milliseconds of the first point.
    monkeypatch.setattr(store, "_open_now", lambda: None)
    return store


def _rows(uri: str, table: str, run_id: str) -> list[dict[str, object]]:
    conn = sqlite3.connect(uri.split(":///", 1)[1])
    conn.row_factory = sqlite3.Row
    try:
        found = conn.execute(f'SELECT * FROM "{table}" WHERE run_uuid = ?', (run_id,)).fetchall()
    finally:
        conn.close()
    return [{k: r[k] for k in r.keys() if k not in ("run_uuid", "chunk_id")} for r in found]


def _same_run_rows(uri: str, run_a: str, run_b: str) -> None:
    for table in ("tags", "params", "metric_chunks", "latest_metrics"):
        assert sorted(map(repr, _rows(uri, table, run_a))) == sorted(
            map(repr, _rows(uri, table, run_b))
        ), table
    a, b = _rows(uri, "runs", run_a)[0], _rows(uri, "runs", run_b)[0]
    uri_a, uri_b = str(a.pop("artifact_uri")), str(b.pop("artifact_uri"))
    assert uri_a.replace(run_a, "ID") == uri_b.replace(run_b, "ID")
    assert abs(a.pop("heartbeat_time") - b.pop("heartbeat_time")) < 60_000  # type: ignore[operator]
    assert a == b


def _write_a_first_run(store: object) -> str:
    run = store.create_run("0", "ann", 1_000, tags=dict(TAGS), run_name="first")  # type: ignore[attr-defined]
    run_id = run.info.run_id
    store.log_batch(  # type: ignore[attr-defined]
        run_id,
        metrics=[Metric("acc", 0.5, 2_000, 0)],
        params=[Param("lr", "0.1"), Param("depth", "3")],
        tags=[RunTag("team", "nlp"), RunTag("mlflow.runName", "renamed")],
    )
    store.log_metric_rows([(run_id, "loss", v, 3_000 + i, i) for i, v in enumerate([3.0, 2.0])])  # type: ignore[attr-defined]
    store.log_metric_rows([(run_id, "loss", float("nan"), 4_000, 2)])  # type: ignore[attr-defined]
    store.end_run(run_id, RunStatus.FINISHED, 5_000, [(run_id, "acc", 0.9, 5_000, 1)])  # type: ignore[attr-defined]
    return run_id


def test_fast_path_columns_match_the_schema_tables() -> None:
    # A run starts unpacked (NULL): its packed text is the packer's to write (run_packer.py).
    run_columns = tuple(c.name for c in schema.runs.columns if c.name != "packed_values")
    assert sqlite_rows.RUN_COLUMNS == run_columns
    assert sqlite_rows.TAG_COLUMNS == tuple(c.name for c in schema.tags.columns)
    assert sqlite_rows.PARAM_COLUMNS == tuple(c.name for c in schema.params.columns)
    staged = ("chunk_id", *STAGED_COLUMNS)  # a staged row's own columns are not the fast path's
    chunk_columns = tuple(c.name for c in schema.metric_chunks.columns if c.name not in staged)
    assert sqlite_rows.CHUNK_COLUMNS == chunk_columns
    # A row's settled flag is written as a constant (0: out of the (key, value) index), and its
    # settled copy of the value is PostgreSQL's (migration 0011).
    own = ("settled", "settled_value")
    latest = tuple(c.name for c in schema.latest_metrics.columns if c.name not in own)
    assert sqlite_rows.LATEST_COLUMNS == latest
    assert sqlite_rows.EXPERIMENT_COLUMNS == tuple(c.name for c in schema.experiments.columns)


def test_fast_path_knows_the_schema_head_revision() -> None:
    assert head_revision() == schema.HEAD_REVISION


def test_first_run_written_by_sqlite3_equals_the_sqlalchemy_stores_rows(
    uri: str, fast: FirstWriteStore
) -> None:
    fast_id = _write_a_first_run(fast)
    assert fast._full_store is None, "the fast path handed the writes to the full store"
    full = SqlStore(uri)
    full_id = _write_a_first_run(full)
    _same_run_rows(uri, fast_id, full_id)
    run = full.get_run(fast_id)
    assert run.info.status == RunStatus.FINISHED and run.info.run_name == "renamed"
    assert run.data.params == {"lr": "0.1", "depth": "3"}
    assert run.data.tags["team"] == "nlp"
    history = full.get_metric_history(fast_id, "loss")
    assert [m.step for m in history] == [0, 1, 2] and history[1].value == 2.0


def test_fast_path_logs_to_a_run_the_sqlalchemy_store_created(
    uri: str, fast: FirstWriteStore
) -> None:
    full = SqlStore(uri)
    run_id = full.create_run("0", "ann", 1_000, tags=dict(TAGS)).info.run_id
    fast.log_batch(run_id, params=[Param("lr", "0.1")], tags=[RunTag("k", "v")])
    fast.log_metric_rows([(run_id, "loss", 1.5, 2_000, 7)])
    assert fast._full_store is None
    run = full.get_run(run_id)
    assert run.data.params == {"lr": "0.1"} and run.data.tags["k"] == "v"
    assert run.data.metrics == {"loss": 1.5}


def test_fast_path_refusals_carry_the_stores_own_messages(uri: str, fast: FirstWriteStore) -> None:
    run_id = fast.create_run("0", "ann", 1_000, tags=dict(TAGS)).info.run_id
    fast.log_batch(run_id, params=[Param("lr", "0.1")])
    with pytest.raises(InvalidParameter, match="Params are immutable"):
        fast.log_batch(run_id, params=[Param("lr", "0.2")])
    with pytest.raises(NotFound, match="No experiment with id=42"):
        fast.create_run("42", "ann", 1_000)
    with pytest.raises(InvalidParameter, match="NUL character"):
        fast.log_batch(run_id, tags=[RunTag("k", "a\x00b")])
    SqlStore(uri).delete_run(run_id)
    with pytest.raises(InvalidParameter, match="is deleted"):
        fast.log_metric_rows([(run_id, "loss", 1.0, 1, 0)])
    assert _rows(uri, "params", run_id) == [{"key": "lr", "value": "0.1"}]
    assert _rows(uri, "metric_chunks", run_id) == []


def _no_full_store(fast: FirstWriteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def handed_over() -> None:
        raise AssertionError("the fast path handed the call to the full store")

    monkeypatch.setattr(fast, "full", handed_over)


def test_set_experiment_finds_an_existing_experiment_without_the_full_store(
    uri: str, fast: FirstWriteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = SqlStore(uri)
    exp_id = full.create_experiment("vision", tags={"team": "cv"})
    _no_full_store(fast, monkeypatch)
    found = fast.get_experiment_by_name("vision")
    assert found == full.get_experiment_by_name("vision")
    assert found is not None and found.experiment_id == exp_id and found.tags == {"team": "cv"}


def test_set_experiment_of_a_missing_name_is_left_to_the_full_store(
    uri: str, fast: FirstWriteStore
) -> None:
    assert fast.get_experiment_by_name("nobody made this") is None
    assert fast._full_store is not None  # it creates the experiment, settling any race


def test_a_lock_held_past_the_busy_timeout_is_reported_once_not_retried_by_the_full_store(
    uri: str, fast: FirstWriteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.engine import make_url

    from notebook_tracker.store import db_errors

    assert fast._conn is not None
    fast._conn.execute("PRAGMA busy_timeout=1100")  # a lasting lock, without waiting 30 s
    _no_full_store(fast, monkeypatch)
    holder = sqlite3.connect(uri.split(":///", 1)[1], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable) as raised:
            fast.create_run("0", "ann", 1_000)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    locked = sa_exc.OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))
    full_says = db_errors.for_exception(locked, locked.orig, make_url(uri))
    assert str(raised.value) == str(full_says)


def test_once_the_full_store_is_open_every_call_goes_to_it(fast: FirstWriteStore) -> None:
    full = fast.full()
    assert isinstance(full, SqlStore) and fast._conn is None
    run_id = fast.create_run("0", "ann", 1_000).info.run_id
    assert fast.get_run(run_id).info.run_id == run_id  # a read: the full store's


@pytest.mark.parametrize("case", ["older schema", "memory", "query options"])
def test_stores_the_fast_path_cannot_serve_open_the_full_way(uri: str, case: str) -> None:
    path = uri.split(":///", 1)[1]
    if case == "older schema":
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '0004_model_registry'")
    target = {"memory": "sqlite:///:memory:", "query options": uri + "?timeout=5"}.get(case, uri)
    assert FirstWriteStore.open(target) is None


FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    import notebook_tracker as nt
    nt.set_tracking_uri(sys.argv[1])
    run = nt.start_run()
    nt.log_param("lr", 0.1)
    nt.set_tag("team", "vision")
    before = "sqlalchemy" in sys.modules
    nt.log_metric("x", 1.0)
    nt.flush()
    print(json.dumps({"run_id": run.info.run_id, "sqlalchemy_before_first_point": before}))
    """
)


def test_a_fresh_process_makes_its_first_point_durable_without_sqlalchemy(uri: str) -> None:
    result = run_fresh_python(FRESH_PROCESS, uri)
    assert result["sqlalchemy_before_first_point"] is False
    # The row as the child left it, read before any store opens: a store's first read starts
    # the background pass that marks the run of this now-exited process KILLED.
    with sqlite3.connect(uri.split(":///", 1)[1]) as conn:
        status = conn.execute(
            "SELECT status FROM runs WHERE run_uuid = ?", (result["run_id"],)
        ).fetchone()
    assert status == (RunStatus.RUNNING,)
    run = SqlStore(uri).get_run(result["run_id"])
    assert run.data.params == {"lr": "0.1"} and run.data.tags["team"] == "vision"
    assert run.data.metrics == {"x": 1.0}


def _child_logs_and_reads(run_id: str) -> None:
    import notebook_tracker as nt

    nt.log_param("child", 1)
    ok = nt.get_run(run_id).data.params == {"parent": "1", "child": "1"}
    os._exit(0 if ok else 1)


def test_a_forked_child_writes_through_its_own_store(
    uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing

    import notebook_tracker as nt

    monkeypatch.setattr(FirstWriteStore, "_open_now", lambda self: None)  # fork mid fast path
    nt.set_tracking_uri(uri)
    run = nt.start_run()
    nt.log_param("parent", 1)
    assert isinstance(nt.fluent.current_client().store, FirstWriteStore)
    child = multiprocessing.get_context("fork").Process(
        target=_child_logs_and_reads, args=(run.info.run_id,)
    )
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0
    nt.end_run()
    assert nt.get_run(run.info.run_id).data.params == {"parent": "1", "child": "1"}


def test_points_written_one_at_a_time_on_the_fast_path_stay_few_chunks(
    uri: str, fast: FirstWriteStore
) -> None:
    run_id = fast.create_run("0", "ann", 1_000).info.run_id
    for step in range(300):  # a synchronous loop, each point its own commit
        fast.log_metric_rows([(run_id, "loss", 1.0 / (step + 1), 1_000 + step, step)])
    assert fast._full_store is None
    store = SqlStore(uri)
    assert chunk_count(store, run_id, "loss") < 64  # not 300
    history = store.get_metric_history(run_id, "loss")
    assert history.steps.tolist() == list(range(300))
    assert history.values.tolist() == [1.0 / (s + 1) for s in range(300)]


def test_a_synchronous_loop_stays_few_chunks_when_the_full_store_takes_over_midway(
    uri: str, fast: FirstWriteStore
) -> None:
    run_id = fast.create_run("0", "ann", 1_000).info.run_id

    def point(step: int) -> None:
        fast.log_metric_rows([(run_id, "loss", 1.0 / (step + 1), 1_000 + step, step)])

    for step in range(60):  # on the fast path: one short of its tail check
        point(step)
    fast.full()  # the background open finishes mid-loop
    for step in range(60, 120):
        point(step)
    # The check fell due at the 64th point, whichever path wrote it: 64 merged, then 56 alone.
    assert chunk_count(SqlStore(uri), run_id, "loss") == 57
    assert fast.get_metric_history(run_id, "loss").steps.tolist() == list(range(120))
