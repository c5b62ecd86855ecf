"""The search DataFrame a user gets: its columns, dtypes and values are those of a frame built
the plain pandas way from one record per run, however it is assembled (column-wise, from many
pages, with missing keys, NULL times or no runs at all)."""

from __future__ import annotations

import math
import random
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from notebook_tracker import frames
from notebook_tracker.entities import Run, RunData, RunInfo
from notebook_tracker.frames import columns_to_frame, runs_to_frame
from notebook_tracker.run_columns import RunColumns


def plain_frame(runs: list[Run]) -> pd.DataFrame:
    """One dict per run handed to pandas, times through `to_datetime`: slow, obviously right."""
    info = ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    groups: list[list[str]] = [[], [], []]
    records = []
    for run in runs:
        i, d = run.info, run.data
        record: dict[str, Any] = {
            "run_id": i.run_id,
            "experiment_id": str(i.experiment_id),
            "status": i.status,
            "artifact_uri": i.artifact_uri,
            "start_time": i.start_time,
            "end_time": i.end_time,
        }
        for group, prefix, values in zip(
            groups, ("metrics.", "params.", "tags."), (d.metrics, d.params, d.tags), strict=True
        ):
            for key, value in values.items():
                record[prefix + key] = value
                if prefix + key not in group:
                    group.append(prefix + key)
        records.append(record)
    columns = info + sorted(groups[0]) + sorted(groups[1]) + sorted(groups[2])
    data = {c: [r.get(c) for r in records] for c in columns}
    for c in sorted(groups[0]):
        data[c] = np.array([math.nan if v is None else v for v in data[c]], dtype=np.float64)
    frame = pd.DataFrame(data, columns=columns)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
    return frame


def make_runs(seed: int, n: int) -> list[Run]:
    rng = random.Random(seed)
    runs = []
    for k in range(n):
        start = None if rng.random() < 0.1 else 1_700_000_000_000 + rng.randrange(10**9)
        end = None if start is None or rng.random() < 0.3 else start + rng.randrange(10**6)
        metrics = {
            key: rng.choice([math.nan, rng.random(), 1e300, -0.0, float(rng.randrange(9))])
            for key in ("acc", "loss", "f1")
            if rng.random() < 0.7
        }
        params = {key: rng.choice(["0.1", "", "é ü", "x" * 50]) for key in ("lr", "model")}
        params = {key: v for key, v in params.items() if rng.random() < 0.8}
        tags = {"team": rng.choice(["a", "b"])} if rng.random() < 0.5 else {}
        info = RunInfo(
            run_id=f"{rng.getrandbits(128):032x}",
            experiment_id=str(rng.randrange(3)),
            status=rng.choice(["RUNNING", "FINISHED"]),
            start_time=start,
            end_time=end,
            artifact_uri=f"/artifacts/{k}",
            run_name=f"run-{k}",
            user_id="u",
            lifecycle_stage="active",
        )
        runs.append(Run(info, RunData(metrics=metrics, params=params, tags=tags)))
    return runs


@pytest.mark.parametrize("seed", range(6))
def test_the_frame_has_the_columns_dtypes_and_values_of_a_plain_pandas_build(seed: int) -> None:
    runs = make_runs(seed, [1, 7, 40, 300, 2, 25][seed])
    pd.testing.assert_frame_equal(runs_to_frame(runs), plain_frame(runs))


def test_a_frame_of_many_pages_equals_the_frame_of_one_page() -> None:
    runs = make_runs(11, 90)
    pages = [RunColumns.from_runs(runs[i : i + 20]) for i in range(0, 90, 20)]
    frame = columns_to_frame(RunColumns.concat(pages))
    pd.testing.assert_frame_equal(frame, plain_frame(runs))


def test_strings_are_pandas_strings_and_times_utc_datetimes() -> None:
    frame = runs_to_frame(make_runs(3, 50))
    assert frame["run_id"].dtype == pd.Series(["x"]).dtype
    assert frame["params.lr"].dtype == pd.Series(["x", None]).dtype
    assert frame["metrics.acc"].dtype == np.float64
    assert str(frame["start_time"].dtype) == "datetime64[us, UTC]"


def test_times_all_missing_and_runs_all_running_still_give_datetime_columns() -> None:
    runs = [r for r in make_runs(5, 60) if r.info.end_time is None][:5]
    assert runs, "the generator makes runs without an end time"
    frame = runs_to_frame(runs)
    pd.testing.assert_frame_equal(frame, plain_frame(runs))
    assert frame["end_time"].isna().all()


def test_no_runs_give_the_info_columns_only() -> None:
    frame = columns_to_frame(RunColumns())
    pd.testing.assert_frame_equal(frame, plain_frame([]))
    assert len(frame) == 0


def test_a_time_beyond_what_pandas_can_hold_fails_as_a_plain_build_does() -> None:
    runs = make_runs(2, 3)
    runs[1].info.end_time = 2**62
    with pytest.raises(Exception) as plain:
        plain_frame(runs)
    with pytest.raises(type(plain.value)):
        runs_to_frame(runs)


@pytest.mark.parametrize("take_from", [0, 10**9])
def test_string_columns_are_the_same_placed_by_arrow_or_filled_by_position(
    monkeypatch: pytest.MonkeyPatch, take_from: int
) -> None:
    # Small pages fill by position, big ones place by Arrow's take(); both must give this frame.
    monkeypatch.setattr(frames, "_TAKE_FROM", take_from)
    runs = make_runs(7, 120)
    pd.testing.assert_frame_equal(runs_to_frame(runs), plain_frame(runs))


def test_a_pandas_without_from_arrays_builds_the_same_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs = make_runs(8, 60)
    fast = runs_to_frame(runs)
    monkeypatch.setattr(pd.DataFrame, "_from_arrays", None, raising=False)
    pd.testing.assert_frame_equal(runs_to_frame(runs), fast)
    pd.testing.assert_frame_equal(fast, plain_frame(runs))


def test_string_columns_follow_pandas_options_changed_between_two_searches() -> None:
    runs = make_runs(9, 30)
    runs_to_frame(runs)  # the dtype for str is remembered for the options of this call
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the option is deprecated in pandas 3, still honoured
        with pd.option_context("future.infer_string", False):
            frame = runs_to_frame(runs)
            expected = plain_frame(runs)
    assert frame["run_id"].dtype == expected["run_id"].dtype
    pd.testing.assert_frame_equal(frame, expected)
    pd.testing.assert_frame_equal(runs_to_frame(runs), plain_frame(runs))


def test_naming_one_frames_columns_leaves_the_next_frames_columns_unnamed() -> None:
    runs = make_runs(10, 20)
    first = runs_to_frame(runs)
    first.columns.name = "field"
    second = runs_to_frame(runs)
    assert second.columns.name is None
    assert list(second.columns) == list(first.columns)
