"""A run's params, latest metrics and tags as one text (`runs.packed_values`), and a page of
those texts back as KeyColumns, split and grouped by Arrow without a Python object per value.

The normalized tables stay the truth; the text is a copy the packer (run_packer.py) writes and
the database's triggers invalidate. A big page reads it with the run's own row: one text per
run instead of one index probe per run and table, which cost SQLite ~0.7 s and PostgreSQL
~1.5 s of CPU for 100,000 runs.

The text is `kind+key`, value, `kind+key`, value... joined by \\x1f, where kind is `p` (param),
`m` (metric, its value as Python's repr: shortest text that reads back to the same double,
'nan', 'inf', '-0.0'), `t` (tag) or `n` (a tag whose value is NULL, value empty). A run
without values is the empty text. \\x1e and \\x1f inside a key or value are escaped as \\x1e\\x02
and \\x1e\\x01, so any text round-trips.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from notebook_tracker.run_columns import KeyColumns

SEP = "\x1f"
_ESC = "\x1e"


def _escaped(text: str) -> str:
    if _ESC in text or SEP in text:
        return text.replace(_ESC, _ESC + "\x02").replace(SEP, _ESC + "\x01")
    return text


def pack_run_values(
    params: Mapping[str, str],
    metrics: Mapping[str, float | None],
    tags: Mapping[str, str | None],
) -> str:
    """One run's values as its packed text; a metric of None is NaN."""
    items: list[str] = []
    for key, value in params.items():
        items += ("p" + _escaped(key), _escaped(value))
    for key, number in metrics.items():
        is_nan = number is None or math.isnan(number)
        items += ("m" + _escaped(key), "nan" if is_nan else repr(float(number)))  # type: ignore[arg-type]
    for key, text in tags.items():
        if text is None:
            items += ("n" + _escaped(key), "")
        else:
            items += ("t" + _escaped(key), _escaped(text))
    return SEP.join(items)


def _unescaped(array: Any) -> Any:
    import pyarrow.compute as pc

    if not pc.any(pc.match_substring(array, _ESC)).as_py():
        return array
    array = pc.replace_substring(array, _ESC + "\x01", SEP)
    return pc.replace_substring(array, _ESC + "\x02", _ESC)


def unpack_page(texts: Sequence[str], positions: Any) -> tuple[KeyColumns, KeyColumns, KeyColumns]:
    """(params, metrics, tags) of runs whose packed texts are `texts`, the i-th at page
    position `positions[i]`. Text values come as Arrow large_string arrays, metrics as float64.
    Raises ValueError on a text that is not a packed one."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    out: tuple[KeyColumns, KeyColumns, KeyColumns] = ({}, {}, {})
    array = pa.array(texts, type=pa.large_string())
    present = pc.greater(pc.binary_length(array), 0)
    array = array.filter(present)
    owners = np.asarray(positions, dtype=np.intp)[present.to_numpy(zero_copy_only=False)]
    if not len(array):
        return out
    parts = pc.split_pattern(array, SEP)
    counts = pc.list_value_length(parts).to_numpy()
    if (counts % 2).any():
        raise ValueError("a packed text has a key without a value")
    flat = parts.flatten()
    # Every run has an even number of parts, so keys sit at even places of the whole page.
    keys = _unescaped(flat.take(pa.array(np.arange(0, len(flat), 2))))
    values = _unescaped(flat.take(pa.array(np.arange(1, len(flat), 2))))
    owner = np.repeat(owners, counts // 2)
    coded = keys.dictionary_encode()
    names = coded.dictionary.to_pylist()
    codes = coded.indices.to_numpy()
    if len(names) <= np.iinfo(np.int16).max:  # numpy's stable sort is a radix sort at 16 bits
        codes = codes.astype(np.int16)
    order = np.argsort(codes, kind="stable")
    ends = np.cumsum(np.bincount(codes, minlength=len(names)))
    owner = owner[order]
    values = values.take(pa.array(order))
    params, metrics, tags = out
    start = 0
    for code, name in enumerate(names):
        end = int(ends[code])
        kind, key, at, chosen = name[:1], name[1:], owner[start:end], values[start:end]
        start = end
        if kind == "p":
            params[key] = (at, chosen)
        elif kind == "m":
            metrics[key] = (at, pc.cast(chosen, pa.float64()).to_numpy(zero_copy_only=False))
        elif kind in ("t", "n"):
            if kind == "n":
                chosen = pa.nulls(len(at), type=pa.large_string())
            if key in tags:  # the same tag NULL in some runs and set in others
                old_at, old = tags[key]
                at, chosen = np.concatenate([old_at, at]), pa.concat_arrays([old, chosen])
            tags[key] = (at, chosen)
        else:
            raise ValueError(f"a packed text holds an unknown kind {kind!r}")
    return out


__all__ = ["pack_run_values", "unpack_page"]
