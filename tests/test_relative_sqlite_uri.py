"""A store named by a relative `sqlite:///t.db` keeps its artifacts where any reader finds them:
the locations it stores are absolute, so a server or a notebook started in another folder (with
the store's absolute URI) reads the same files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from notebook_tracker.client import TrackingClient

_SCRIPT = textwrap.dedent(
    """
    import json, notebook_tracker as nt
    nt.set_tracking_uri("sqlite:///t.db")
    with nt.start_run() as run:
        nt.log_text("hello", "note.txt")
    print(json.dumps(run.info.run_id))
    """
)


def test_a_script_on_a_relative_uri_stores_artifacts_any_reader_finds(tmp_path: Path) -> None:
    """A fresh process's first point creates the store (without SQLAlchemy)."""
    here, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEBOOK_TRACKER_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT], cwd=here, env=env, capture_output=True, text=True,
        check=True, timeout=120,
    )  # fmt: skip
    run_id = json.loads(out.stdout)

    reader = TrackingClient(f"sqlite:///{here / 't.db'}")
    artifact_uri = Path(reader.get_run(run_id).info.artifact_uri)
    assert artifact_uri.is_absolute() and artifact_uri.is_relative_to(here / "artifacts")
    os.chdir(elsewhere)
    try:
        got = Path(reader.download_artifacts(run_id, "note.txt", str(elsewhere)))
    finally:
        os.chdir(tmp_path)
    assert got.read_text() == "hello"


def test_the_full_store_on_a_relative_uri_stores_absolute_locations(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    client = TrackingClient("sqlite:///full.db")
    default = client.get_experiment("0")
    assert default is not None
    assert Path(default.artifact_location) == tmp_path / "artifacts" / "0"
    run_id = client.create_run("0").info.run_id
    client.log_text(run_id, "hi", "a.txt")
    monkeypatch.chdir(tmp_path.parent)
    reader = TrackingClient(f"sqlite:///{tmp_path / 'full.db'}")
    assert [f.path for f in reader.list_artifacts(run_id)] == ["a.txt"]
