"""Downsampling a metric for plotting keeps what a chart of the full series would show."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from notebook_tracker.downsample import downsample_history, minmax_indices


def test_a_million_points_become_about_a_thousand_keeping_ends_and_extremes():
    rng = np.random.default_rng(7)
    y = rng.normal(size=1_000_000).cumsum()
    idx = minmax_indices(y, 1000)
    assert 900 <= len(idx) <= 1000
    assert idx[0] == 0 and idx[-1] == len(y) - 1
    assert y.argmax() in idx and y.argmin() in idx
    assert np.all(np.diff(idx) > 0)


def test_every_isolated_spike_survives():
    y = np.zeros(200_000)
    # Spikes anywhere, but not two of one sign within a bucket's width (400 points here).
    offsets = np.random.default_rng(1).integers(0, 1000, 30)
    spikes = np.arange(1000, 181_000, 6000) + offsets
    y[spikes[:15]] = 100.0
    y[spikes[15:]] = -100.0
    assert set(spikes) <= set(minmax_indices(y, 1000).tolist())


def test_short_series_are_not_touched():
    assert minmax_indices(np.arange(10.0), 1000).tolist() == list(range(10))
    out = downsample_history([0, 1], [5, 6], [0.5, float("nan")], 1000)
    assert out == {
        "total": 2,
        "downsampled": False,
        "step": [0, 1],
        "timestamp": [5, 6],
        "value": [0.5, None],
    }


def test_non_finite_points_never_stand_in_for_a_bucket():
    y = np.sin(np.arange(100_000) / 1000)
    y[20_000:40_000] = np.nan
    y[50_000] = np.inf
    out = downsample_history(np.arange(len(y)), np.arange(len(y)), y, 500)
    assert out["downsampled"] and out["total"] == len(y)
    assert len(out["value"]) <= 500
    assert all(v is not None for v in out["value"])
    assert not any(20_000 <= s < 40_000 for s in out["step"])


def test_timestamp_axis_orders_points_by_time():
    steps = np.arange(5000)
    timestamps = steps[::-1] * 10  # logged with steps counting down in time
    out = downsample_history(steps, timestamps, np.cos(steps / 50), 100, x="timestamp")
    assert out["timestamp"] == sorted(out["timestamp"])
    assert out["timestamp"][0] == 0 and out["timestamp"][-1] == 49_990


@settings(max_examples=200, deadline=None)
@given(
    y=arrays(
        np.float64,
        st.integers(0, 3000),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
    ),
    max_points=st.integers(4, 600),
)
def test_downsampling_invariants(y, max_points):
    idx = minmax_indices(y, max_points)
    n = len(y)
    assert len(idx) <= max_points
    assert np.all(np.diff(idx) > 0)
    if n:
        assert idx[0] == 0 and idx[-1] == n - 1
        finite = np.isfinite(y)
        if finite.any():
            values = y[idx]
            assert np.nanmax(np.where(np.isfinite(values), values, -np.inf)) == y[finite].max()
            assert np.nanmin(np.where(np.isfinite(values), values, np.inf)) == y[finite].min()
