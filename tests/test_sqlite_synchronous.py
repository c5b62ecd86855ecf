"""SQLite fsyncs each commit by default (a flush survives a power loss), and the setting is one
environment variable with a clear error for a bad value."""

from __future__ import annotations

import pytest

from notebook_tracker.errors import InvalidParameter
from notebook_tracker.store.engine import engines_for

LEVELS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def _synchronous(uri: str) -> list[str]:
    levels = []
    for engine in engines_for(uri):
        with engine.connect() as conn:
            levels.append(LEVELS[conn.exec_driver_sql("PRAGMA synchronous").scalar()])
    return levels


def test_every_connection_commits_with_full_synchronous_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("NOTEBOOK_TRACKER_SQLITE_SYNCHRONOUS", raising=False)
    assert _synchronous(f"sqlite:///{tmp_path / 'default.db'}") == ["FULL", "FULL"]


def test_the_variable_chooses_normal_for_speed_over_power_loss(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_TRACKER_SQLITE_SYNCHRONOUS", "normal")
    assert _synchronous(f"sqlite:///{tmp_path / 'normal.db'}") == ["NORMAL", "NORMAL"]


def test_a_bad_value_names_the_variable_and_the_choices(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_TRACKER_SQLITE_SYNCHRONOUS", "fast")
    with pytest.raises(InvalidParameter, match="NOTEBOOK_TRACKER_SQLITE_SYNCHRONOUS.*FULL.*'fast'"):
        engines_for(f"sqlite:///{tmp_path / 'bad.db'}")
