"""Runs as a pandas DataFrame, in the column shape MLflow's `search_runs` users expect.

Built column-wise: each param, metric and tag key becomes one numpy array filled by position
(run_columns.py), so 100,000 runs cost a few vectorised assignments per key rather than a
Python loop per run and key. Each column reaches pandas ready-made, in the dtype pandas would
infer (strings as its Arrow-backed `str`, times as UTC datetimes), and the frame is assembled
from them in one call: letting pandas infer, convert and check cost more than reading a
100-row page (`to_datetime` alone ~0.35 ms a column).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from notebook_tracker.entities import Run
from notebook_tracker.gc_pause import gc_paused
from notebook_tracker.run_columns import INFO_COLUMNS, KeyColumns, RunColumns, is_arrow

# Milliseconds within this bound fit datetime64[us] (int64) with room to spare; anything
# beyond goes through pandas' own conversion, which says what is out of range.
_SAFE_MS = 2**53
# Below this many rows a string column is filled by position as objects and converted once;
# from here Arrow's take() of the present values is cheaper (measured crossover ~10,000).
_TAKE_FROM = 5_000


def runs_to_frame(runs: Sequence[Run]) -> Any:
    """`run_id, experiment_id, status, artifact_uri, start_time, end_time, metrics.*, params.*,
    tags.*`; times as UTC datetimes; a run lacking a key has NaN/None there."""
    return columns_to_frame(RunColumns.from_runs(runs))


def _columns(found: KeyColumns, size: int, prefix: str, text: Any | None = None) -> dict[str, Any]:
    """One column per key; metrics (no `text`) as float64, params and tags as strings."""
    import numpy as np

    out: dict[str, Any] = {}
    for key in sorted(found):
        positions, values = found[key]
        arrow = None
        if text is not None and size >= _TAKE_FROM:
            arrow = _arrow_strings(positions, values, size, text)
        if arrow is not None:
            out[prefix + key] = arrow
            continue
        if is_arrow(values):
            values = values.to_numpy(zero_copy_only=False)
        column = np.full(size, np.nan) if text is None else np.full(size, None, dtype=object)
        column[positions] = values
        out[prefix + key] = column if text is None else _strings(column, text)
    return out


def _arrow_strings(positions: Any, values: Any, size: int, dtype: Any) -> Any | None:
    """A key's strings placed at their runs' positions by Arrow (null elsewhere), or None when
    pandas does not keep str in Arrow or a value is not a str: a full object column per key
    filled by position cost ~2x more at 100,000 runs."""
    import numpy as np
    import pandas as pd

    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return None
    import pyarrow as pa

    try:
        if is_arrow(values):  # read from packed texts (store/packed_values.py)
            present = values.cast(pa.large_string())
        else:
            present = pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, TypeError):
        return None
    index = np.full(size, -1, dtype=np.int64)
    index[positions] = np.arange(len(positions))
    arrow = present.take(pa.array(index, mask=index < 0))
    return pd.arrays.ArrowStringArray(arrow, dtype=dtype)


def _strings(values: Any, dtype: Any) -> Any:
    """A column of str (or None) as the array of `dtype`, pandas' dtype for a column of str,
    built in one step."""
    import pandas as pd

    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return values  # strings kept as objects (pandas < 3 or infer_string off): as given
    import pyarrow as pa

    try:
        arrow = pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, TypeError):
        return values  # not all str: pandas infers what it makes of them
    return pd.arrays.ArrowStringArray(arrow, dtype=dtype)


def _text_dtype() -> Any:
    """The dtype pandas infers for a column of str under its current options."""
    import pandas as pd
    from pandas import _config

    using = getattr(_config, "using_string_dtype", None)
    if using is None:  # pandas < 2.3: no cheap way to read the option, so ask each time
        return pd.Series(["x"]).dtype
    return _probed_text_dtype(using(), pd.get_option("mode.string_storage"))


@functools.lru_cache(maxsize=8)
def _probed_text_dtype(using_string_dtype: bool, storage: str) -> Any:
    # A throwaway Series cost ~80 us a frame; the answer only changes with these options.
    import pandas as pd

    return pd.Series(["x"]).dtype


@functools.lru_cache(maxsize=1)
def _utc_micros() -> Any:
    import pandas as pd

    try:
        return pd.DatetimeTZDtype(unit="us", tz="UTC")
    except (TypeError, ValueError):
        return None  # pandas < 2 keeps nanoseconds only


def _times(values: Sequence[int | None]) -> Any:
    """Epoch milliseconds (or None) as datetime64[us, UTC], NaT where missing."""
    import numpy as np
    import pandas as pd

    millis = np.array(values, dtype=np.float64)  # None becomes NaN
    missing = np.isnan(millis)
    present = millis[~missing]
    if missing.all() or not (np.abs(present) < _SAFE_MS).all():
        return pd.to_datetime(pd.Series(list(values)), unit="ms", utc=True).array
    micros = np.where(missing, 0, millis).astype(np.int64) * 1000
    micros[missing] = np.iinfo(np.int64).min  # NaT
    stamps = micros.view("datetime64[us]")
    dtype = _utc_micros()
    if dtype is None:
        return pd.DatetimeIndex(stamps).tz_localize("UTC").array
    # The array of these finished values as they are: pd.array() checks and converts them
    # again (~90 us a column, a tenth of a 100-row frame).
    wrap = getattr(pd.arrays.DatetimeArray, "_simple_new", None)
    try:
        return wrap(stamps, dtype=dtype)  # type: ignore[misc]
    except TypeError:  # not there, or another signature
        return pd.array(stamps, dtype=dtype)


def columns_to_frame(columns: RunColumns) -> Any:
    """The DataFrame of `runs_to_frame` from runs already in columns (one row per info tuple)."""
    with gc_paused(len(columns.info)):
        return _frame(columns)


def _frame(columns: RunColumns) -> Any:
    import pandas as pd

    size = len(columns.info)
    if not size:
        frame = pd.DataFrame({name: [] for name in INFO_COLUMNS})
        for col in ("start_time", "end_time"):
            frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
        return frame
    text = _text_dtype()
    # One list per column: zip(*info) hands zip 100,000 iterators and took ~5x longer.
    info = columns.info
    run_ids, experiment_ids, statuses, uris, starts, ends = (
        [row[i] for row in info] for i in range(len(INFO_COLUMNS))
    )
    data: dict[str, Any] = {
        "run_id": _strings(run_ids, text),
        "experiment_id": _strings([str(e) for e in experiment_ids], text),
        "status": _strings(statuses, text),
        "artifact_uri": _strings(uris, text),
        "start_time": _times(starts),
        "end_time": _times(ends),
    }
    data.update(_columns(columns.metrics, size, "metrics."))
    data.update(_columns(columns.params, size, "params.", text))
    data.update(_columns(columns.tags, size, "tags.", text))
    return _assemble(data, size, text)


def _assemble(data: dict[str, Any], size: int, text: Any) -> Any:
    """The frame of these finished columns in one step. pandas' dict constructor checks and
    sanitizes each column again (~40% of a 100-row frame); its `_from_arrays` takes them as
    they are. Columns left for pandas to infer (objects, lists: other options, odd values), a
    pandas without it or with another signature go through the public constructor, which
    builds the same frame (tests compare the two)."""
    import numpy as np
    import pandas as pd

    from_arrays = getattr(pd.DataFrame, "_from_arrays", None)
    finished = all(
        isinstance(c, pd.api.extensions.ExtensionArray)
        or (isinstance(c, np.ndarray) and c.dtype == np.float64)
        for c in data.values()
    )
    if from_arrays is not None and finished:
        try:
            return from_arrays(
                list(data.values()),
                columns=_column_index(tuple(data), text).copy(),
                index=pd.RangeIndex(size),
                verify_integrity=False,
            )
        except TypeError:
            pass
    return pd.DataFrame(data, copy=False)


@functools.lru_cache(maxsize=64)
def _column_index(names: tuple[str, ...], text: Any) -> Any:
    """The frame's column labels (their dtype is `text`'s, as pandas infers under the same
    options); one search repeated has the same ones, and building the Index cost ~0.15 ms a
    frame. Each frame gets a copy: the labels are shared, `frame.columns.name` is not."""
    import pandas as pd

    return pd.Index(list(names))
