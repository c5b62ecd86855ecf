"""Packed run values (migration 0008, store/packed_values.py, run_packer.py, packed_reads.py):
a big search read from each run's packed text shows exactly what the normalized tables hold,
whatever wrote them and whenever, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import downgrade_store, pack_while_a_writer_commits
from sqlalchemy import text

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.frames import columns_to_frame
from notebook_tracker.store import forget_stores, run_packer
from notebook_tracker.store.metric_settling import settle_idle_runs
from notebook_tracker.store.packed_reads import PACKED_FROM
from notebook_tracker.store.packed_values import pack_run_values, unpack_page
from notebook_tracker.store.schema import HEAD_REVISION
from notebook_tracker.store.schema_version import current_revision

AWKWARD = [1 / 3, 0.1 + 0.2, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e22]
AWKWARD += [-0.0, math.inf, -math.inf, math.nan, 123456789012345678.0, -1.5e-300]
ODD_TEXTS = ["", "a,b", "x\x1fy", "\x1e\x02", "\x1e", "naïve ☃ 日本", "tab\there\nnewline", "nan"]


def _seed(client: TrackingClient) -> list[str]:
    exps = [client.create_experiment("packed-a"), client.create_experiment("packed-b")]
    for i in range(40):
        rid = client.create_run(exps[i % 2], start_time=1000 + i).info.run_id
        if i == 7:
            continue  # a run without any value
        metrics = [Metric("m", AWKWARD[i % len(AWKWARD)], 1, 0), Metric(f"k{i % 3}", i, 1, 0)]
        params = [Param("p", ODD_TEXTS[i % len(ODD_TEXTS)]), Param("ключ é", str(i))]
        tags = [RunTag("t", ODD_TEXTS[(i + 3) % len(ODD_TEXTS)])]
        if i == 11:  # very many keys on one run
            params += [Param(f"wide.{j}", f"v{j}") for j in range(300)]
            metrics += [Metric(f"wide.{j}", j / 7, 1, 0) for j in range(300)]
        client.store.log_batch(rid, metrics, params, tags)
        if i % 9 == 4:
            client.delete_run(rid)
    # Keys the rules refuse but an older version or an import may have stored.
    with client.store.writer.begin() as conn:
        rid = client.search_runs([exps[0]], "", "ACTIVE_ONLY", 1)[0].info.run_id
        for key in ("a,b", "x\x1fy", "ключ,\x1e"):
            conn.execute(
                text("INSERT INTO params (run_uuid, key, value) VALUES (:r, :k, :v)"),
                {"r": rid, "k": key, "v": key[::-1]},
            )
    gone = client.create_experiment("packed-gone")
    rid = client.create_run(gone, start_time=5000).info.run_id
    client.store.log_batch(rid, [Metric("m", 2.5, 1, 0)], [Param("p", "deleted exp")], [])
    client.delete_experiment(gone)
    return [*exps, gone]


def _frame(client: TrackingClient, exps: list[str], page: int) -> pd.DataFrame:
    found, token = client.search_run_columns(exps, "", "ALL", page, ["start_time DESC"])
    assert token is None
    return columns_to_frame(found)


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal frames, floats compared bit for bit (-0.0 is not 0.0, NaN is NaN)."""
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    for name in a.columns:
        assert a[name].dtype == b[name].dtype, name
        if a[name].dtype == np.float64:
            bits_a = a[name].to_numpy().view(np.int64)
            bits_b = b[name].to_numpy().view(np.int64)
            assert (bits_a == bits_b).all(), name


def _unpacked(client: TrackingClient) -> int:
    with client.store.writer.connect() as conn:
        nulls = conn.execute(text("SELECT count(*) FROM runs WHERE packed_values IS NULL"))
        stale = conn.execute(text("SELECT count(*) FROM stale_run_values"))
        return int(nulls.scalar() or 0) + int(stale.scalar() or 0)


def test_packed_texts_round_trip_any_text_and_every_double() -> None:
    params = {"p": "a\x1fb\x1ec", "": "", "q": "\x1e\x01"}
    metrics: dict[str, float | None] = {f"m{i}": v for i, v in enumerate(AWKWARD)}
    metrics["none"] = None
    tags: dict[str, str | None] = {"t": "☃", "null": None, "x\x1f": "\x1e\x02"}
    found = unpack_page([pack_run_values(params, metrics, tags), ""], [3, 5])
    got_params, got_metrics, got_tags = found
    assert {k: v.to_pylist() for k, (_, v) in got_params.items()} == {
        k: [v] for k, v in params.items()
    }
    for key, value in metrics.items():
        positions, values = got_metrics[key]
        assert positions.tolist() == [3]
        want = math.nan if value is None else value
        assert np.array([want]).view(np.int64)[0] == values.view(np.int64)[0] or (
            math.isnan(want) and math.isnan(values[0])
        )
    assert {k: v.to_pylist() for k, (_, v) in got_tags.items()} == {k: [v] for k, v in tags.items()}


def test_a_big_read_from_packed_values_equals_the_normalized_read_exactly(
    client: TrackingClient,
) -> None:
    exps = _seed(client)
    normalized = _frame(client, exps, PACKED_FROM - 1)  # a small page: the normalized read
    unpacked = _frame(client, exps, PACKED_FROM)  # a big page of runs not packed yet
    client.store.wait_for_packer()
    assert client.store.pack_runs() >= 0
    assert _unpacked(client) == 0
    packed = _frame(client, exps, PACKED_FROM)
    _assert_same(normalized, unpacked)
    _assert_same(normalized, packed)
    assert packed["params.p"].tolist().count("") == 5  # empty strings are values, not missing


def test_a_big_read_of_runs_never_packed_starts_the_packer(client: TrackingClient) -> None:
    exps = _seed(client)
    assert _unpacked(client) > 0
    before = _frame(client, exps, PACKED_FROM)
    client.store.wait_for_packer(timeout=60)
    assert _unpacked(client) == 0
    _assert_same(before, _frame(client, exps, PACKED_FROM))


def _writes(client: TrackingClient, run_ids: list[str]) -> None:
    """Every way a value changes, and a write straight to the tables behind the store's back."""
    a, b, c, d, e = run_ids[:5]
    client.log_param(a, "new", "1")
    client.set_tag(b, "t", "changed")
    # Logged long ago, so idle: PostgreSQL packs no run whose values are being logged
    # (run_packer._UNSETTLED, tests/test_row_stale_marking.py), and the packer then catches up.
    client.log_metric(c, "m", -7.25, step=5, timestamp=1)
    client.delete_tag(d, "t")
    client.store.log_batch(e, [Metric("m", math.nan, 1, 9)], [Param("fresh", "x")], [])
    with client.store.writer.begin() as conn:
        conn.execute(text("UPDATE params SET value = 'raw' WHERE run_uuid = :r"), {"r": run_ids[5]})
        conn.execute(text("DELETE FROM latest_metrics WHERE run_uuid = :r"), {"r": run_ids[6]})


def test_every_write_after_packing_is_seen_by_the_next_big_read(client: TrackingClient) -> None:
    exps = _seed(client)
    client.store.pack_runs()
    ids = [r.info.run_id for r in client.search_runs(exps, "", "ACTIVE_ONLY", 100)]
    _writes(client, ids)
    packed = _frame(client, exps, PACKED_FROM)
    _assert_same(_frame(client, exps, PACKED_FROM - 1), packed)
    row = packed.set_index("run_id")
    assert row.loc[ids[0], "params.new"] == "1"
    assert row.loc[ids[1], "tags.t"] == "changed"
    assert row.loc[ids[2], "metrics.m"] == -7.25
    assert row.loc[ids[5], "params.p"] == "raw"
    assert math.isnan(row.loc[ids[6], "metrics.m"])
    client.store.wait_for_packer(timeout=60)
    assert _unpacked(client) == 0  # the read started the packer, which caught up
    _assert_same(_frame(client, exps, PACKED_FROM - 1), _frame(client, exps, PACKED_FROM))


def test_a_purged_run_leaves_nothing_for_the_packer(client: TrackingClient) -> None:
    exps = _seed(client)
    client.store.pack_runs()
    victim = client.search_runs(exps, "", "ACTIVE_ONLY", 1)[0].info.run_id
    client.delete_run(victim)
    client.store.purge_run(victim)
    client.store.pack_runs()
    assert _unpacked(client) == 0


def test_a_store_from_before_packing_upgrades_unpacked_and_reads_the_same(
    client: TrackingClient, store_uri: str
) -> None:
    exps = _seed(client)
    client.store.pack_runs()
    before = _frame(client, exps, PACKED_FROM)
    downgrade_store(client.store.writer, "0007_staged_metric_points")
    forget_stores()
    reopened = TrackingClient(store_uri)
    assert current_revision(reopened.store.writer) == HEAD_REVISION
    assert _unpacked(reopened) == 41  # every run: the migration packs nothing itself
    _assert_same(before, _frame(reopened, exps, PACKED_FROM))
    reopened.store.wait_for_packer(timeout=60)
    assert _unpacked(reopened) == 0
    _assert_same(before, _frame(reopened, exps, PACKED_FROM))


# -- PostgreSQL: a writer racing the packer, on two real connections -------------------------


@pytest.fixture
def pg_client(postgres_uri: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from notebook_tracker import env

    monkeypatch.setenv(env.TRACKING_URI, postgres_uri)
    yield TrackingClient(postgres_uri)
    forget_stores()


def test_a_write_committed_while_the_packer_packs_is_never_hidden_by_its_text(
    pg_client: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = pg_client
    exps = _seed(client)
    target = client.search_runs(exps, "", "ACTIVE_ONLY", 1)[0].info.run_id

    def write() -> None:
        # Straight to the table: no store check and no foreign-key check locks the run (the
        # store's writes do), only the trigger.
        with client.store.writer.begin() as other:
            other.execute(
                text("UPDATE tags SET value = 'written during packing' WHERE run_uuid = :r"),
                {"r": target},
            )

    with client.store.writer.begin() as conn:
        conn.execute(text("UPDATE runs SET packed_values = NULL"))
    settle_idle_runs(client.store.writer, pause_s=0)  # PostgreSQL packs settled runs only
    # The writer's trigger waits for the batch's lock on the run, until it commits.
    assert pack_while_a_writer_commits(client, monkeypatch, write)
    frame = _frame(client, exps, PACKED_FROM).set_index("run_id")
    assert frame.loc[target, "tags.t"] == "written during packing"
    _assert_same(_frame(client, exps, PACKED_FROM - 1), _frame(client, exps, PACKED_FROM))


def test_the_packer_skips_a_run_a_writer_holds_and_packs_it_later(
    pg_client: TrackingClient,
) -> None:
    client = pg_client
    exps = _seed(client)
    client.store.pack_runs()
    target = client.search_runs(exps, "", "ACTIVE_ONLY", 1)[0].info.run_id
    with client.store.writer.connect() as writer:
        with writer.begin():
            writer.execute(
                text("INSERT INTO params (run_uuid, key, value) VALUES (:r, 'held', 'yes')"),
                {"r": target},
            )
            with client.store.writer.begin() as conn:  # anything else marks it unpacked
                conn.execute(text("UPDATE runs SET packed_values = NULL"))
            run_packer.pack_batch(client.store.writer)  # must not wait for the writer
            with client.store.reader.connect() as conn:
                left = conn.execute(
                    text("SELECT run_uuid FROM runs WHERE packed_values IS NULL")
                ).all()
            assert [r[0] for r in left] == [target]
    frame = _frame(client, exps, PACKED_FROM).set_index("run_id")
    assert frame.loc[target, "params.held"] == "yes"
    client.store.pack_runs()
    assert _unpacked(client) == 0
    _assert_same(_frame(client, exps, PACKED_FROM - 1), _frame(client, exps, PACKED_FROM))


@pytest.mark.parametrize("infer_string", [True, False])
def test_a_frame_of_packed_and_normalized_pages_equals_the_normalized_frame(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch, infer_string: bool
) -> None:
    from notebook_tracker.run_columns import RunColumns
    from notebook_tracker.store import packed_reads

    exps = _seed(client)
    client.store.pack_runs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the option is deprecated in pandas 3, still honoured
        with pd.option_context("future.infer_string", infer_string):
            monkeypatch.setattr(packed_reads, "PACKED_FROM", 10**9)
            normalized = _frame(client, exps, 1000)
            monkeypatch.setattr(packed_reads, "PACKED_FROM", 10)  # pages of 10+ runs are "big"
            pages, token = [], None
            for size in (12, 5, 30):  # packed (Arrow strings), normalized (objects), packed
                page, token = client.search_run_columns(
                    exps, "", "ALL", size, ["start_time DESC"], token
                )
                pages.append(page)
            assert token is None
            _assert_same(normalized, columns_to_frame(RunColumns.concat(pages)))
