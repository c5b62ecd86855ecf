"""Params, latest metrics and tags of a page of runs on SQLite, as few Python objects as
possible: each table comes back as one row of three aggregated strings (the runs' indexes,
the keys, the values), parsed by numpy and json in C, then grouped by key with numpy.

A row per value cost more than everything else in a 100,000-run DataFrame: Python's sqlite3
makes a tuple and an object per column of each row (~0.6 us a float row, ~2 us a (index,
key, value) row), while SQLite's own probe of the covering index is a fraction of that.

Metrics cannot travel as JSON (SQLite's JSON keeps 15 significant digits), nor as
printf('%!.17g'), which misrounds some values beyond 1e200 on SQLite 3.40. printf('%!.20e')
round-trips every double tried (random bit patterns, subnormals, 1e308, inf), but that rests
on SQLite's float formatting, which has changed between releases: the driver's SQLite is
checked once per process on awkward values, and if it does not round-trip them the metrics
come as rows of (index, key, value) instead.
"""

from __future__ import annotations

import functools
import json
import random
import struct
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from notebook_tracker.gc_pause import gc_paused
from notebook_tracker.run_columns import KeyColumns

_EXACT = "'%!.20e'"

_SQLITE_ARRAYS = (
    'SELECT group_concat(e."key"), {keys}, json_group_array(t."value") '
    'FROM json_each(?) AS e JOIN {table} AS t ON t.run_uuid = e."value"'
)
# group_concat aggregates in the order rows are visited, so the three strings stay aligned.
_SQLITE_METRIC_TEXT = (
    'SELECT group_concat(e."key"), {keys}, '
    f"group_concat(CASE WHEN t.is_nan THEN 'nan' ELSE printf({_EXACT}, t.\"value\") END, ' ') "
    'FROM json_each(?) AS e JOIN latest_metrics AS t ON t.run_uuid = e."value"'
)
# A big page's keys as one comma-separated text, split and coded by Arrow: no str per value.
# Keys cannot hold a comma (validation.py); a stored one that does is caught by the count.
_KEYS_JSON = 'json_group_array(t."key")'
_KEYS_TEXT = """group_concat(t."key", ',')"""
_SQLITE_METRIC_ROWS = (
    'SELECT e."key", t."key", CASE WHEN t.is_nan THEN NULL ELSE t."value" END '
    'FROM json_each(?) AS e JOIN latest_metrics AS t ON t.run_uuid = e."value"'
)

_FACTORIZE_FROM = 5_000
_SHORT_INDEXES = 20_000  # characters: a page of up to ~4,000 values
_TEXT_FROM = 2_000

# SQLite version -> whether its printf round-trips doubles (checked once per process).
_exact_printf: dict[str, bool] = {}


def driver_rows(conn: Connection, sql: str, params: Any) -> list[tuple[Any, ...]]:
    """`sql`'s rows as the driver's own tuples (any dialect): no SQLAlchemy Row per row."""
    result = conn.exec_driver_sql(sql, params)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _awkward_doubles() -> list[float]:
    rng = random.Random(15)
    values = [0.1, 0.1 + 0.2, 1 / 3, 5e-324, 2.225073858507201e-308, 1e308, 1.7976931348623157e308]
    values += [2.0**53 + 2, 1e16, 1e22, 123456789012345678.0, float("inf"), -float("inf")]
    while len(values) < 400:
        (x,) = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))
        if x == x:  # not NaN: SQLite stores no NaN (is_nan says so instead)
            values.append(x)
    return values


def printf_round_trips(conn: Connection) -> bool:
    """Whether this SQLite's printf(%!.20e) gives back every bit of awkward doubles."""
    version = str(getattr(conn.dialect.dbapi, "sqlite_version", ""))
    if version not in _exact_printf:
        import numpy as np

        values = _awkward_doubles()
        rows = ",".join("(?)" for _ in values)
        sql = f"SELECT group_concat(printf({_EXACT}, column1), ' ') FROM (VALUES {rows})"
        ((text,),) = driver_rows(conn, sql, tuple(values))
        back = _floats(text, len(values))
        same = back is not None and bool((back == np.array(values)).all())
        _exact_printf[version] = same
    return _exact_printf[version]


def _split(text: str, sep: str, kind: Any) -> Any:
    """The numbers of a `sep`-separated string as a numpy array of arrow `kind`, parsed in C
    (Arrow's parser rounds correctly; numpy's and Python's took 4x longer on 20 digits)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = pc.split_pattern(pa.array([text], type=pa.large_string()), sep).flatten()
    return pc.cast(parts, kind).to_numpy(zero_copy_only=False)


def _floats(text: str | None, count: int) -> Any:
    """The numbers of a space-separated string as float64, None unless there are `count`
    (or without pyarrow, which parses them)."""
    import numpy as np

    if not count or not text:
        return np.empty(0) if not count else None
    try:
        import pyarrow as pa
    except ImportError:
        return None
    try:
        data = _split(text, " ", pa.float64())
    except pa.ArrowException:
        return None
    return data if len(data) == count else None


def _indexes(text: str | None) -> Any:
    import numpy as np

    if not text:
        return np.empty(0, dtype=np.intp)
    if len(text) < _SHORT_INDEXES:
        # Arrow's calls cost ~0.15 ms each whatever the length: a tenth of a 100-row search
        # for the two tables read this way. numpy parses a short text of ints in ~10 us.
        return np.fromstring(text, dtype=np.intp, sep=",")
    try:
        import pyarrow as pa

        return _split(text, ",", pa.int64())
    except ImportError:
        return np.array(text.split(","), dtype=np.intp)


def _key_codes(text: str | None, count: int) -> tuple[Any, Sequence[str]] | None:
    """A big page's comma-separated keys as (a code per value, the names), coded by Arrow; None
    unless there are `count` (a stored key holding a comma) or without pyarrow."""
    import numpy as np

    if not count:
        return np.empty(0, dtype=np.intp), []
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:
        return None
    if text is None:
        return None
    parts = pc.split_pattern(pa.array([text], type=pa.large_string()), ",").flatten()
    if len(parts) != count:
        return None
    coded = parts.dictionary_encode()
    return coded.indices.to_numpy(zero_copy_only=False), coded.dictionary.to_pylist()


def by_key(
    keys: Sequence[str], indexes: Any, values: Sequence[Any], where: Any, numeric: bool
) -> KeyColumns:
    """KeyColumns from one (key, sorted-id index, value) triple per value, grouped with numpy."""
    import numpy as np

    if not len(keys):
        return {}
    if len(keys) < _FACTORIZE_FROM:  # pandas' fixed cost outweighs a dict on small pages
        code_of: dict[str, int] = {}
        codes = np.array([code_of.setdefault(k, len(code_of)) for k in keys], dtype=np.intp)
        names: Sequence[str] = list(code_of)
    else:
        import pandas as pd

        codes, names = pd.factorize(np.array(keys, dtype=object))
    return _group(codes, names, indexes, values, where, numeric)


def _group(
    codes: Any, names: Sequence[str], indexes: Any, values: Any, where: Any, numeric: bool
) -> KeyColumns:
    """KeyColumns from a key code (into `names`), sorted-id index and value per value."""
    import numpy as np

    if not len(codes):
        return {}
    positions = where[np.asarray(indexes, dtype=np.intp)]
    if numeric:
        data = np.asarray(values, dtype=np.float64)  # None (NaN) becomes NaN
    else:
        data = np.empty(len(values), dtype=object)
        data[:] = values
    if len(names) <= np.iinfo(np.int16).max:  # numpy's stable sort is a radix sort at 16 bits
        codes = np.asarray(codes).astype(np.int16, copy=False)
    order = np.argsort(codes, kind="stable")
    ends = np.cumsum(np.bincount(codes, minlength=len(names)))
    out: KeyColumns = {}
    start = 0
    for code, key in enumerate(names):
        chosen = order[start : ends[code]]
        out[key] = (positions[chosen], data[chosen])
        start = int(ends[code])
    return out


@functools.cache
def _has_arrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _grouped(conn: Connection, table: str, bound: tuple[str], where: Any) -> KeyColumns:
    if len(where) >= _TEXT_FROM and _has_arrow():  # else the keys would be read twice
        sql = _SQLITE_ARRAYS.format(table=table, keys=_KEYS_TEXT)
        ((indexes, keys, values),) = driver_rows(conn, sql, bound)
        at = _indexes(indexes)
        coded = _key_codes(keys, len(at))
        if coded is not None:
            return _group(*coded, at, json.loads(values), where, False)
    sql = _SQLITE_ARRAYS.format(table=table, keys=_KEYS_JSON)
    ((indexes, keys, values),) = driver_rows(conn, sql, bound)
    return by_key(json.loads(keys), _indexes(indexes), json.loads(values), where, False)


def _metrics(conn: Connection, bound: tuple[str], where: Any) -> KeyColumns:
    # Rows stay cheaper for a small page: Arrow's calls have a fixed cost (a 100-row search
    # of 1,000 runs took 3 ms more CPU with the text).
    if len(where) >= _TEXT_FROM and _has_arrow() and printf_round_trips(conn):
        sql = _SQLITE_METRIC_TEXT.format(keys=_KEYS_TEXT)
        ((indexes, keys, text),) = driver_rows(conn, sql, bound)
        at = _indexes(indexes)
        coded = _key_codes(keys, len(at))
        values = _floats(text, len(at))
        if coded is not None and values is not None:
            return _group(*coded, at, values, where, True)
    rows = driver_rows(conn, _SQLITE_METRIC_ROWS, bound)
    # One list per column: zip(*rows) over 100,000 rows costs ten times more.
    return by_key([r[1] for r in rows], [r[0] for r in rows], [r[2] for r in rows], where, True)


def read_sqlite_key_values(
    conn: Connection, ids_json: str, where: Any
) -> tuple[KeyColumns, KeyColumns, KeyColumns]:
    """(params, metrics, tags) of the runs whose ids, sorted, are the JSON array `ids_json`;
    `where` maps an index in that array to the run's position in the page."""
    bound = (ids_json,)
    with gc_paused(len(where)):
        return (
            _grouped(conn, "params", bound, where),
            _metrics(conn, bound, where),
            _grouped(conn, "tags", bound, where),
        )


__all__ = ["by_key", "printf_round_trips", "read_sqlite_key_values"]
