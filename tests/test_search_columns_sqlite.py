"""A page's params, latest metrics and tags as SQLite hands them to the DataFrame: every value
back exactly (quotes, backslashes, non-ASCII, empty strings, all 17 digits of a float, NaN) at
the position of its run in the page, whatever characters the run ids hold."""

from __future__ import annotations

import math
import random
import sys

import pytest
from sqlalchemy import create_engine, text

from notebook_tracker.store.sql_run_columns import read_key_values

IDS = [
    "f3a9c0de12",
    "0001",
    'quote"id',
    "back\\slash",
    "ünï-cödé",
    "tab\tid",
    "AbC123",
]
VALUES = ["", "0.1", 'say "hi"', "C:\\path\\n", "ü ☃ 中", "line\nbreak", "x" * 300]


@pytest.fixture
def conn():
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        for table in ("params", "tags"):
            conn.execute(text(f'CREATE TABLE {table} (run_uuid TEXT, "key" TEXT, value TEXT)'))
        conn.execute(
            text(
                'CREATE TABLE latest_metrics (run_uuid TEXT, "key" TEXT, value FLOAT, '
                "is_nan BOOLEAN)"
            )
        )
        for table in ("params", "tags", "latest_metrics"):  # as the store's migration 0006
            conn.execute(text(f'CREATE INDEX ix_{table} ON {table} (run_uuid, "key", value)'))
        yield conn


def _fill(conn, ids: list[str], seed: int) -> dict[str, dict[str, dict[str, object]]]:
    rng = random.Random(seed)
    expected: dict[str, dict[str, dict[str, object]]] = {"params": {}, "tags": {}, "metrics": {}}
    rows: dict[str, list[dict[str, object]]] = {"params": [], "tags": [], "metrics": []}
    for rid in ids:
        for table in ("params", "tags"):
            for key in ("lr", "model", 'odd "key"'):
                if rng.random() < 0.7:
                    value = rng.choice(VALUES)
                    rows[table].append({"r": rid, "k": key, "v": value})
                    expected[table].setdefault(key, {})[rid] = value
        for key in ("acc", "loss"):
            if rng.random() < 0.8:
                value = rng.choice([math.nan, rng.random() / 3, 1e-300, -2.5, 0.1 + 0.2])
                is_nan = math.isnan(value)
                rows["metrics"].append({"r": rid, "k": key, "v": 0.0 if is_nan else value})
                rows["metrics"][-1]["n"] = is_nan
                expected["metrics"].setdefault(key, {})[rid] = value
    for table in ("params", "tags"):
        conn.execute(text(f"INSERT INTO {table} VALUES (:r, :k, :v)"), rows[table])
    conn.execute(text("INSERT INTO latest_metrics VALUES (:r, :k, :v, :n)"), rows["metrics"])
    return expected


def _as_dicts(found, page: list[str]) -> dict[str, dict[str, object]]:
    return {
        key: {page[int(p)]: v for p, v in zip(positions, values, strict=True)}
        for key, (positions, values) in found.items()
    }


# Small pages and one past the size where keys are grouped by pandas instead of a dict.
@pytest.mark.parametrize(
    "ids", [IDS, [f"{i:032x}" for i in range(0, 4000, 7)], [f"r{i}" for i in range(2500)]]
)
def test_values_come_back_exactly_at_their_runs_positions_in_the_page(conn, ids) -> None:
    expected = _fill(conn, ids, seed=len(ids))
    page = list(reversed(ids))  # not sorted: positions must follow the page, not the lookup
    params, metrics, tags = read_key_values(conn, page)
    assert _as_dicts(params, page) == expected["params"]
    assert _as_dicts(tags, page) == expected["tags"]
    got = _as_dicts(metrics, page)
    assert got.keys() == expected["metrics"].keys()
    for key, by_run in expected["metrics"].items():
        assert got[key].keys() == by_run.keys()
        for rid, value in by_run.items():
            if math.isnan(value):
                assert math.isnan(got[key][rid])
            else:
                assert got[key][rid] == value  # every bit, not 15 digits


def test_a_page_without_values_or_runs_reads_nothing(conn) -> None:
    assert read_key_values(conn, []) == ({}, {}, {})
    assert read_key_values(conn, ["no-such-run"]) == ({}, {}, {})


def test_metrics_read_as_rows_when_sqlite_printf_does_not_round_trip(conn, monkeypatch) -> None:
    from notebook_tracker.store import sqlite_key_values

    ids = [f"r{i}" for i in range(sqlite_key_values._TEXT_FROM)]  # big enough for the text
    expected = _fill(conn, ids, seed=3)
    fast = _as_dicts(read_key_values(conn, ids)[1], ids)
    monkeypatch.setattr(sqlite_key_values, "printf_round_trips", lambda conn: False)
    slow = _as_dicts(read_key_values(conn, ids)[1], ids)
    assert fast.keys() == slow.keys() == expected["metrics"].keys()
    for key, by_run in expected["metrics"].items():
        for rid, value in by_run.items():
            assert math.isnan(value) or fast[key][rid] == slow[key][rid] == value
            assert (
                not math.isnan(value) or math.isnan(fast[key][rid]) and math.isnan(slow[key][rid])
            )


def test_this_sqlite_round_trips_extreme_doubles_as_text(conn) -> None:
    from notebook_tracker.store import sqlite_key_values

    sqlite_key_values._exact_printf.clear()
    assert sqlite_key_values.printf_round_trips(conn)  # else every big frame takes the slow path
    values = [1.7976931348623157e308, -1.1545580616824966e232, 5e-324, 2.0**-1022, 0.1 + 0.2]
    values += [float("inf"), -float("inf"), 123456789012345678.0]
    conn.execute(
        text("INSERT INTO latest_metrics VALUES (:r, 'x', :v, 0)"),
        [{"r": f"r{i}", "v": v} for i, v in enumerate(values)],
    )
    ids = [f"r{i}" for i in range(sqlite_key_values._TEXT_FROM)]  # a page read as text
    _, metrics, _ = read_key_values(conn, ids)
    assert _as_dicts(metrics, ids)["x"] == {f"r{i}": v for i, v in enumerate(values)}


def test_ids_of_non_ascii_letters_are_bound_escaped_and_found(conn) -> None:
    ids = ["ünï", "abc", "中文"]  # letters all, but not ASCII: bound through json.dumps
    expected = _fill(conn, ids, seed=5)
    params, metrics, tags = read_key_values(conn, ids)
    assert _as_dicts(params, ids) == expected["params"]
    assert _as_dicts(tags, ids) == expected["tags"]


def test_a_stored_key_holding_a_comma_still_comes_back_whole_on_a_big_page(conn) -> None:
    from notebook_tracker.store import sqlite_key_values

    # The API refuses such keys, but a store written by other tools may hold them: a big page
    # reads keys as comma-joined text and must notice the split went wrong.
    ids = [f"r{i}" for i in range(sqlite_key_values._TEXT_FROM)]
    expected = _fill(conn, ids, seed=7)
    for table in ("params", "tags"):
        conn.execute(text(f"INSERT INTO {table} VALUES ('r1', 'a,b', 'v')"))
    conn.execute(text("INSERT INTO latest_metrics VALUES ('r1', 'm,n', 0.25, 0)"))
    params, metrics, tags = read_key_values(conn, ids)
    assert _as_dicts(params, ids) == {**expected["params"], "a,b": {"r1": "v"}}
    assert _as_dicts(tags, ids) == {**expected["tags"], "a,b": {"r1": "v"}}
    assert _as_dicts(metrics, ids)["m,n"] == {"r1": 0.25}
    assert _as_dicts(metrics, ids).keys() == {*expected["metrics"], "m,n"}


def test_without_pyarrow_a_big_page_reads_each_table_once_as_json(conn, monkeypatch) -> None:
    from sqlalchemy import event

    from notebook_tracker.store import sqlite_key_values

    ids = [f"r{i}" for i in range(sqlite_key_values._TEXT_FROM)]
    expected = _fill(conn, ids, seed=11)
    for name in ("pyarrow", "pyarrow.compute"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    sqlite_key_values._has_arrow.cache_clear()
    statements: list[str] = []
    listen = (conn.engine, "before_cursor_execute")
    record = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(*listen, record)
    try:
        params, metrics, tags = read_key_values(conn, ids)
    finally:
        event.remove(*listen, record)
        monkeypatch.undo()
        sqlite_key_values._has_arrow.cache_clear()
    assert len(statements) == 3  # not the text statement first, then JSON again
    assert _as_dicts(params, ids) == expected["params"]
    assert _as_dicts(tags, ids) == expected["tags"]
    got = _as_dicts(metrics, ids)
    for key, by_run in expected["metrics"].items():
        for rid, value in by_run.items():
            assert got[key][rid] == value or math.isnan(value) and math.isnan(got[key][rid])
