"""Migration 0006's covering indexes (on SQLite, since 0009, tables stored in their order) and
the column-wise read that walks them: a store from before them upgrades in place and reads the
same, and the values a DataFrame shows are exactly those logged (exact floats, NaN and
infinities, long values) on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import math

import pandas as pd
from helpers import downgrade_store
from sqlalchemy import Engine, inspect

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.frames import columns_to_frame, runs_to_frame
from notebook_tracker.store import forget_stores
from notebook_tracker.store.schema import HEAD_REVISION
from notebook_tracker.store.schema_version import current_revision

COVERING = {
    "params": "ix_params_run_key_value",
    "tags": "ix_tags_run_key_value",
    "latest_metrics": "ix_latest_metrics_run_key_value",
}
AWKWARD_FLOATS = [1 / 3, 0.1 + 0.2, 5e-324, 1.7976931348623157e308, math.inf, -math.inf]
# Longer than a PostgreSQL B-tree entry may be (~2.7 kB) even compressed.
LONG_VALUE = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(90))


def _seed(client: TrackingClient, n: int = 60) -> list[str]:
    exps = [client.create_experiment("cover-a"), client.create_experiment("cover-b")]
    for i in range(n):
        rid = client.create_run(exps[i % 2], start_time=1000 + i).info.run_id
        value = AWKWARD_FLOATS[i % len(AWKWARD_FLOATS)] if i % 8 else math.nan
        metrics = [Metric("m", value, 1, 0)] + ([Metric(f"k{i % 5}", i, 1, 0)] if i % 2 else [])
        params = [Param("p", LONG_VALUE if i == 4 else str(i % 4))] if i % 3 else []
        tags = [RunTag("note", LONG_VALUE + str(i))] if i % 4 == 0 else [RunTag("t", str(i))]
        client.store.log_batch(rid, metrics, params, tags)
    return exps


def _frame(client: TrackingClient, exps: list[str]) -> pd.DataFrame:
    found, token = client.search_run_columns(exps, "", "ALL", 1000, ["start_time DESC"])
    assert token is None
    return columns_to_frame(found)


def _indexes(engine: Engine, table: str) -> set[str]:
    return {ix["name"] for ix in inspect(engine).get_indexes(table)}


def test_a_store_from_before_the_covering_indexes_upgrades_in_place_and_reads_the_same(
    client: TrackingClient, store_uri: str
) -> None:
    exps = _seed(client)
    before = _frame(client, exps)
    downgrade_store(client.store.writer, "0005_runs_start_time")
    assert COVERING["latest_metrics"] not in _indexes(client.store.writer, "latest_metrics")
    forget_stores()

    reopened = TrackingClient(store_uri)
    after = _frame(reopened, exps)

    engine = reopened.store.writer
    assert current_revision(engine) == HEAD_REVISION
    sqlite = engine.dialect.name == "sqlite"
    for table, name in COVERING.items():
        # SQLite stores each table in (run_uuid, key) order instead (migration 0009), and
        # PostgreSQL, which cannot index long param and tag values, dropped the metrics' one so
        # that logging a value updates no index (0011).
        assert name not in _indexes(engine, table)
        assert _clustered(engine, table) == sqlite
    pd.testing.assert_frame_equal(after, before)
    assert len(after) == 60


def _clustered(engine: Engine, table: str) -> bool:
    """Whether `table` is a SQLite table stored in its primary key's order (WITHOUT ROWID)."""
    if engine.dialect.name != "sqlite":
        return False
    with engine.connect() as conn:
        sql = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).scalar_one()
    return " ".join(sql.upper().split()).endswith(") WITHOUT ROWID")


def test_the_dataframe_holds_every_value_exactly_as_logged(client: TrackingClient):
    exps = _seed(client)
    runs = client.search_runs(exps, "", "ALL", 1000, ["start_time DESC"])
    got = _frame(client, exps)
    pd.testing.assert_frame_equal(got, runs_to_frame(list(runs)))
    by_id = got.set_index("run_id")
    for run in runs:
        row = by_id.loc[run.info.run_id]
        logged = run.data.metrics["m"]
        shown = row["metrics.m"]
        assert (math.isnan(shown) and math.isnan(logged)) or shown.hex() == logged.hex()
        assert row.get("params.p") == run.data.params.get("p") or "p" not in run.data.params
    assert set(got["metrics.m"].dropna().map(float.hex)) == {f.hex() for f in AWKWARD_FLOATS}
    assert (got["params.p"] == LONG_VALUE).sum() == 1
    assert got["tags.note"].dropna().str.startswith(LONG_VALUE).all()


def test_a_page_of_runs_without_params_or_metrics_has_only_the_columns_it_needs(
    client: TrackingClient,
):
    exp = client.create_experiment("bare")
    for i in range(3):
        client.create_run(exp, start_time=i)
    frame = _frame(client, [exp])
    assert len(frame) == 3
    assert not [c for c in frame.columns if c.startswith(("metrics.", "params."))]
