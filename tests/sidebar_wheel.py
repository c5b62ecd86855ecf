"""Build the project's wheel and lay its prebuilt sidebar out as a Jupyter data dir.

Shared by the wheel test and the browser tests, which run JupyterLab on the extension as the
wheel ships it (`JUPYTER_PATH` pointing at the unpacked data dir), not on the source tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABEXT = "share/jupyter/labextensions/notebook-tracker/"


def build_wheel(dst: Path) -> Path:
    """The wheel of the working tree, built into `dst` (the JS build runs if its output is
    missing; an existing build in notebook_tracker/labextension is reused)."""
    env = {k: v for k, v in os.environ.items() if k != "SKIP_JUPYTER_BUILDER"}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dst),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"building the wheel failed:\n{proc.stdout}\n{proc.stderr}")
    wheels = sorted(dst.glob("notebook_tracker-*.whl"))
    if not wheels:
        raise RuntimeError(f"no wheel in {dst}: {proc.stdout}\n{proc.stderr}")
    return wheels[-1]


def data_files(wheel: Path) -> dict[str, str]:
    """Wheel data files by their install path under the prefix ('share/...', 'etc/...')."""
    with zipfile.ZipFile(wheel) as zf:
        out = {}
        for name in zf.namelist():
            head, sep, rest = name.partition(".data/data/")
            if sep and "/" not in head:
                out[rest] = name
        return out


def unpack_data_dir(wheel: Path, dst: Path) -> Path:
    """Extract the wheel's `share/jupyter` into `dst`; returns the dir to put on JUPYTER_PATH."""
    files = data_files(wheel)
    with zipfile.ZipFile(wheel) as zf:
        for rel, name in files.items():
            if rel.startswith("share/jupyter/"):
                target = dst / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out)
    return dst / "share" / "jupyter"
