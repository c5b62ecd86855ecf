"""The CLI finds its store the way git finds `.git`, says which one it read, and never creates a
store on a command that reads (or changes what is already there)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from notebook_tracker import config, env
from notebook_tracker.client import TrackingClient
from notebook_tracker.store import forget_stores

READ_COMMANDS = [
    ["runs", "list"],
    ["experiments", "list"],
    ["runs", "describe", "0123456789abcdef0123456789abcdef"],
    ["runs", "delete", "0123456789abcdef0123456789abcdef"],
    ["experiments", "delete", "1"],
    ["models", "list"],
    ["models", "versions", "iris"],
]


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {env.TRACKING_URI, env.ARTIFACT_ROOT}}
    return subprocess.run(
        [sys.executable, "-m", "notebook_tracker.cli", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    """A notebooks folder whose store holds one run named 'found-me', and a subfolder."""
    folder = tmp_path / "notebooks"
    (folder / "data" / "raw").mkdir(parents=True)
    db = folder / config.STORE_DIRNAME / config.DB_FILENAME
    db.parent.mkdir()
    client = TrackingClient(f"sqlite:///{db}")
    client.create_run(client.create_experiment("demo"), run_name="found-me")
    forget_stores()
    return folder


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def no_store_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    assert config.find_store(folder) is None, "a store above the test's tmp dir spoils this test"
    return folder


def test_runs_list_from_a_subfolder_reads_the_nearest_store_above(notebooks: Path) -> None:
    result = _cli(notebooks / "data" / "raw", "runs", "list")
    assert result.returncode == 0, result.stderr
    assert "found-me" in result.stdout
    db = notebooks.resolve() / config.STORE_DIRNAME / config.DB_FILENAME
    assert result.stderr.splitlines() == [f"store: {db}"]
    assert not (notebooks / "data" / "raw" / config.STORE_DIRNAME).exists()


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_read_commands_without_a_store_say_so_and_create_nothing(
    no_store_dir: Path, args: list[str]
) -> None:
    result = _cli(no_store_dir, *args)
    assert result.returncode == 1
    assert f"No store found in {no_store_dir.resolve()} or any folder above it" in result.stderr
    assert "run from your notebooks' folder or pass --tracking-uri" in result.stderr
    assert "Traceback" not in result.stderr
    assert _files(no_store_dir) == []


@pytest.mark.parametrize("which", ["notebooks folder", "store folder", "database file"])
def test_tracking_uri_accepts_the_store_folder(
    notebooks: Path, no_store_dir: Path, which: str
) -> None:
    store_dir = notebooks / config.STORE_DIRNAME
    given = {
        "notebooks folder": notebooks,
        "store folder": store_dir,
        "database file": store_dir / config.DB_FILENAME,
    }[which]
    before = _files(notebooks)
    result = _cli(no_store_dir, "runs", "list", "--tracking-uri", str(given))
    assert result.returncode == 0, result.stderr
    assert "found-me" in result.stdout
    assert result.stderr.splitlines() == [f"store: {store_dir.resolve() / config.DB_FILENAME}"]
    assert _files(notebooks) == before, "no second tracker.db beside the store"


def test_tracking_uri_naming_no_store_is_an_error_that_creates_nothing(
    no_store_dir: Path,
) -> None:
    result = _cli(no_store_dir, "runs", "list", "--tracking-uri", str(no_store_dir))
    assert result.returncode == 1
    assert f"No store at {no_store_dir.resolve() / config.DB_FILENAME}" in result.stderr
    result = _cli(no_store_dir, "experiments", "list", "--tracking-uri", "sqlite:///gone/x.db")
    assert result.returncode == 1 and "No store at" in result.stderr
    assert _files(no_store_dir) == []


def test_experiments_create_starts_a_store_in_the_working_directory(no_store_dir: Path) -> None:
    result = _cli(no_store_dir, "experiments", "create", "first")
    assert result.returncode == 0, result.stderr
    db = no_store_dir.resolve() / config.STORE_DIRNAME / config.DB_FILENAME
    assert result.stderr.splitlines() == [f"store: {db}"]
    assert db.is_file()
    listed = _cli(no_store_dir, "experiments", "list")
    assert listed.returncode == 0 and "first" in listed.stdout


def test_store_line_masks_a_database_password() -> None:
    from notebook_tracker.cli.store import describe

    shown = describe("postgresql://me:s3cret@db.example:5432/tracking")
    assert "s3cret" not in shown and shown == "postgresql://me:***@db.example:5432/tracking"
