"""A big page's params, latest metrics and tags from the runs' packed texts (packed_values.py),
read with the page's own rows; the runs without a valid text the normalized way
(sql_run_columns.py), so the answer is always the normalized tables' answer.

A text is valid when it is not NULL and, on PostgreSQL, its run is not listed in
`stale_run_values` (migration 0008). The list is read before the page: a write committed
after it was read is a write the page may or may not see, as with any read beside a write.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from notebook_tracker.run_columns import KeyColumns, RunColumns, joined_values
from notebook_tracker.store.packed_values import unpack_page
from notebook_tracker.store.run_pages import page_rows
from notebook_tracker.store.schema import runs as runs_t
from notebook_tracker.store.sql_run_columns import read_key_values
from notebook_tracker.store.sqlite_key_values import driver_rows

# From this many runs a page is read from packed texts; below, the normalized read (one
# statement) costs less than parsing texts with Arrow's fixed costs.
PACKED_FROM = 2_000
# More stale runs than this and the page is read the normalized way (the packer is behind).
_MAX_STALE = 20_000
_STALE_SQL = f"SELECT DISTINCT run_uuid FROM stale_run_values LIMIT {_MAX_STALE + 1}"

Values = tuple[KeyColumns, KeyColumns, KeyColumns]


@functools.cache
def has_arrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def uses_packed(max_results: int) -> bool:
    return max_results >= PACKED_FROM and has_arrow()


def stale_runs(conn: Connection) -> set[str] | None:
    """The runs whose packed text a write made stale (empty on SQLite, whose triggers set it
    NULL instead), or None when there are too many to be worth reading."""
    if conn.dialect.name != "postgresql":
        return set()
    found = {row[0] for row in driver_rows(conn, _STALE_SQL, None)}
    return None if len(found) > _MAX_STALE else found


def _merged(packed: KeyColumns, read: KeyColumns) -> KeyColumns:
    out = dict(packed)
    for key, (positions, values) in read.items():
        if key in out:
            old_positions, old_values = out[key]
            import numpy as np

            out[key] = (
                np.concatenate([old_positions, positions]),
                joined_values([old_values, values]),
            )
        else:
            out[key] = (positions, values)
    return out


def read_packed_values(
    conn: Connection,
    ids: Sequence[str],
    texts: Sequence[str | None],
    stale: set[str] | None,
) -> tuple[Values, int]:
    """((params, metrics, tags) of the page's runs by position, how many runs were read the
    normalized way). `texts` are the runs' packed texts, in page order."""
    import numpy as np

    if stale is None:
        return read_key_values(conn, list(ids)), len(ids)
    if stale:
        valid = [t is not None and i not in stale for i, t in zip(ids, texts, strict=True)]
    else:
        valid = [t is not None for t in texts]
    where = np.flatnonzero(np.array(valid, dtype=bool))
    if len(where) < len(ids) // 2:  # mostly unpacked: one normalized read of the page
        return read_key_values(conn, list(ids)), len(ids) - len(where)
    try:
        packed = unpack_page([texts[i] for i in where.tolist()], where)
    except ValueError:  # not a text the packer wrote: the truth instead
        return read_key_values(conn, list(ids)), len(ids)
    if len(where) == len(ids):
        return packed, 0
    others = np.flatnonzero(~np.array(valid, dtype=bool))
    read = read_key_values(conn, [ids[i] for i in others.tolist()])
    moved = tuple(
        {key: (others[positions], values) for key, (positions, values) in kind.items()}
        for kind in read
    )
    params, metrics, tags = (_merged(p, r) for p, r in zip(packed, moved, strict=True))
    return (params, metrics, tags), len(others)


def packed_page(
    conn: Connection,
    search: Any,
    info: Sequence[Any],
    max_results: int,
    page_token: str | None,
    bound: str,
) -> tuple[RunColumns, str | None, int]:
    """One page of a big search as RunColumns with its values from packed texts (the `info`
    columns and the packed text read in the page's statement), its next token, and how many
    of its runs were read the normalized way (the packer has work when that is not 0)."""
    width = len(info)
    stale = stale_runs(conn)
    rows, token = page_rows(
        conn, search, [*info, runs_t.c.packed_values], max_results, page_token, bound
    )
    ids = [row[0] for row in rows]
    values, unpacked = read_packed_values(conn, ids, [row[width] for row in rows], stale)
    # frames.py reads the leading `info` fields of each tuple: the rest can stay.
    return RunColumns(rows, *values), token, unpacked


__all__ = ["PACKED_FROM", "packed_page", "read_packed_values", "stale_runs", "uses_packed"]
