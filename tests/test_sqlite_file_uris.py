"""A SQLite store named by a `file:` URI (`sqlite:///file:/path?mode=ro&uri=true`) keeps its
folder and lock files beside the database it opens, not under a `file:` folder in the working
directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebook_tracker.store.sqlite_files import database_file


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sqlite:///file:/data/t.db?mode=ro&uri=true", "/data/t.db"),
        ("sqlite:///file:///data/a%20b.db?uri=true", "/data/a b.db"),
        ("sqlite:////data/t.db", "/data/t.db"),
        ("sqlite:///t.db?timeout=5", "t.db"),
        ("sqlite:///file:/data/t.db", "file:/data/t.db"),  # no uri=true: a plain file name
        ("sqlite:///file:shared?mode=memory&uri=true", None),
        ("sqlite:///:memory:", None),
        ("sqlite://", None),
    ],
)
def test_the_database_file_of_each_sqlite_url_form(uri: str, expected: str | None) -> None:
    assert database_file(uri) == expected


def test_a_read_only_file_uri_store_makes_nothing_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notebook_tracker.client import TrackingClient

    db = tmp_path / "store" / "t.db"
    TrackingClient(f"sqlite:///{db}").create_experiment("made-writable")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    client = TrackingClient(f"sqlite:///file:{db}?mode=ro&uri=true")
    assert [e.name for e in client.search_experiments() if e.name == "made-writable"]
    assert list(cwd.iterdir()) == []
