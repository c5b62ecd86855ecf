"""`pip install notebook-tracker` is enough for the sidebar: the wheel carries the prebuilt
JupyterLab extension, and JupyterLab lists it as enabled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sidebar_wheel import LABEXT, data_files, unpack_data_dir


@pytest.fixture
def wheel(sidebar_wheel: Path) -> Path:
    return sidebar_wheel  # built once per session (conftest.py), the browser tests use it too


def test_wheel_ships_the_prebuilt_sidebar(wheel: Path) -> None:
    files = data_files(wheel)
    assert LABEXT + "package.json" in files, sorted(files)
    with zipfile.ZipFile(wheel) as zf:
        meta = json.loads(zf.read(files[LABEXT + "package.json"]))
        assert meta["name"] == "notebook-tracker"
        entry = meta["jupyterlab"]["_build"]["load"]
        assert entry.startswith("static/remoteEntry.") and entry.endswith(".js")
        assert LABEXT + entry in files, "the remote entry named by package.json is shipped"
        assert LABEXT + "static/style.js" in files
        install = json.loads(zf.read(files[LABEXT + "install.json"]))
        assert install["packageManager"] == "python"


def test_wheel_enables_the_server_extension(wheel: Path) -> None:
    files = data_files(wheel)
    with zipfile.ZipFile(wheel) as zf:
        config = json.loads(
            zf.read(files["etc/jupyter/jupyter_server_config.d/notebook_tracker.json"])
        )
    assert config["ServerApp"]["jpserver_extensions"]["notebook_tracker"] is True


def test_jupyter_lists_the_installed_sidebar_as_enabled(wheel: Path, tmp_path: Path) -> None:
    data_dir = unpack_data_dir(wheel, tmp_path)
    env = {**os.environ, "JUPYTER_PATH": str(data_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    listing = proc.stdout + proc.stderr
    assert proc.returncode == 0, listing
    lines = [ln for ln in listing.splitlines() if "notebook-tracker" in ln]
    assert lines, listing
    assert any("enabled" in ln and "OK" in ln for ln in lines), listing
