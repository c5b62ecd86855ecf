"""Runs as columns: what a DataFrame of search results is built from, without a Run per row.

The runs' own fields come as one tuple per run, params, latest metrics and tags as
(position, key, value) rows, the position being the run's index in `info`; frames.py pivots
them. A store that can read these straight from
its tables (SqlStore) skips building Run objects; any other store converts its Runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from notebook_tracker.entities import Run

# The order of each `info` tuple: the DataFrame's leading columns.
INFO_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")


@dataclass
class RunColumns:
    info: list[tuple[Any, ...]] = field(default_factory=list)
    params: list[tuple[int, str, str]] = field(default_factory=list)
    # NaN values as None or NaN: both become NaN in the frame.
    metrics: list[tuple[int, str, float | None]] = field(default_factory=list)
    tags: list[tuple[int, str, str | None]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.info)

    def extend(self, other: RunColumns) -> None:
        base = len(self.info)
        if not base:  # the first page: taken as is, no position to shift
            self.info, self.params = other.info, other.params
            self.metrics, self.tags = other.metrics, other.tags
            return
        self.info.extend(other.info)
        for mine, theirs in (
            (self.params, other.params),
            (self.metrics, other.metrics),
            (self.tags, other.tags),
        ):
            mine.extend((pos + base, k, v) for pos, k, v in theirs)

    @classmethod
    def from_runs(cls, runs: Iterable[Run]) -> RunColumns:
        out = cls()
        for pos, run in enumerate(runs):
            i = run.info
            out.info.append(
                (i.run_id, i.experiment_id, i.status, i.artifact_uri, i.start_time, i.end_time)
            )
            data = run.data
            out.params.extend((pos, k, v) for k, v in data.params.items())
            out.metrics.extend(
                (pos, k, None if math.isnan(v) else v) for k, v in data.metrics.items()
            )
            out.tags.extend((pos, k, v) for k, v in data.tags.items())
        return out


__all__ = ["INFO_COLUMNS", "RunColumns"]
