"""Runs as columns: what a DataFrame of search results is built from, without a Run per row.

The runs' own fields come as one tuple per run; params, latest metrics and tags as one entry
per key: (positions, values), two arrays saying which runs (by index in `info`) have the key
and with which value. A SQL store reads them grouped so from its tables (sql_run_columns.py),
any other store converts its Runs; frames.py turns each entry into a column by position.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from notebook_tracker.entities import Run

# The order of each `info` tuple: the DataFrame's leading columns.
INFO_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")

# key -> (positions as an int array, values as an array: float64 for metrics; for params and
# tags objects, or an Arrow string array when read from packed texts: store/packed_values.py)
KeyColumns = dict[str, tuple[Any, Any]]


def is_arrow(values: Any) -> bool:
    return type(values).__module__.startswith("pyarrow")


def joined_values(parts: Sequence[Any]) -> Any:
    """The value arrays one after the other: numpy's, or Arrow's when any part is Arrow."""
    import numpy as np

    if not any(is_arrow(p) for p in parts):
        return np.concatenate(parts)
    import pyarrow as pa

    return pa.concat_arrays(
        [
            p.cast(pa.large_string())
            if is_arrow(p)
            else pa.array(p, type=pa.large_string(), from_pandas=True)
            for p in parts
        ]
    )


def key_columns(
    entries: Iterable[tuple[str, Sequence[int], Sequence[Any]]], numeric: bool
) -> KeyColumns:
    """KeyColumns from (key, positions, values) entries; a metric's None (NaN) becomes NaN."""
    import numpy as np

    out: KeyColumns = {}
    for key, positions, values in entries:
        if numeric:
            data = np.array(values, dtype=np.float64)
        else:
            data = np.empty(len(values), dtype=object)
            data[:] = values
        out[key] = (np.asarray(positions, dtype=np.intp), data)
    return out


@dataclass
class RunColumns:
    info: list[tuple[Any, ...]] = field(default_factory=list)
    params: KeyColumns = field(default_factory=dict)
    metrics: KeyColumns = field(default_factory=dict)
    tags: KeyColumns = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.info)

    def extend(self, other: RunColumns) -> None:
        import numpy as np

        base = len(self.info)
        self.info.extend(other.info)
        for mine, theirs in (
            (self.params, other.params),
            (self.metrics, other.metrics),
            (self.tags, other.tags),
        ):
            for key, (positions, values) in theirs.items():
                if key in mine:
                    old_positions, old_values = mine[key]
                    positions = np.concatenate([old_positions, positions + base])
                    values = joined_values([old_values, values])
                else:
                    positions = positions + base
                mine[key] = (positions, values)

    @classmethod
    def concat(cls, pages: Sequence[RunColumns]) -> RunColumns:
        """The pages one after the other, each key's arrays joined once: extending page by page
        would copy what came before at every page (quadratic over a million runs)."""
        import numpy as np

        if len(pages) == 1:
            return pages[0]
        info: list[tuple[Any, ...]] = []
        parts: list[dict[str, tuple[list[Any], list[Any]]]] = [{}, {}, {}]
        for page in pages:
            base = len(info)
            info.extend(page.info)
            for found, kind in zip(parts, (page.params, page.metrics, page.tags), strict=True):
                for key, (positions, values) in kind.items():
                    entry = found.setdefault(key, ([], []))
                    entry[0].append(positions + base)
                    entry[1].append(values)
        params, metrics, tags = (
            {k: (np.concatenate(p), joined_values(v)) for k, (p, v) in found.items()}
            for found in parts
        )
        return cls(info, params, metrics, tags)

    @classmethod
    def from_runs(cls, runs: Iterable[Run]) -> RunColumns:
        info: list[tuple[Any, ...]] = []
        grouped: list[dict[str, tuple[list[int], list[Any]]]] = [{}, {}, {}]
        for pos, run in enumerate(runs):
            i = run.info
            info.append(
                (i.run_id, i.experiment_id, i.status, i.artifact_uri, i.start_time, i.end_time)
            )
            data = run.data
            nan_free = {k: None if math.isnan(v) else v for k, v in data.metrics.items()}
            kinds: tuple[dict[str, Any], ...] = (data.params, nan_free, data.tags)
            for found, values in zip(grouped, kinds, strict=True):
                for key, value in values.items():
                    entry = found.setdefault(key, ([], []))
                    entry[0].append(pos)
                    entry[1].append(value)
        params, metrics, tags = (
            key_columns(((k, p, v) for k, (p, v) in found.items()), numeric=n == 1)
            for n, found in enumerate(grouped)
        )
        return cls(info, params, metrics, tags)


__all__ = ["INFO_COLUMNS", "KeyColumns", "RunColumns", "is_arrow", "joined_values", "key_columns"]
