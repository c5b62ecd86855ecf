"""The sidebar's TypeScript unit tests (pure logic: sorting, merging polls, diffs, windowing,
chart data), run with Node's own test runner through `jlpm test` in labextension/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from helpers import require_service

LABEXTENSION = Path(__file__).resolve().parents[1] / "labextension"


def test_sidebar_logic_passes_its_typescript_unit_tests() -> None:
    jlpm = shutil.which("jlpm")
    if jlpm is None or shutil.which("node") is None:
        require_service("node and jlpm are needed for the sidebar's unit tests")
    if not (LABEXTENSION / "node_modules" / "typescript").is_dir():
        require_service(
            "labextension/node_modules is missing: `pip install -e .` (with Node) or "
            "`jlpm install` in labextension/ installs it"
        )
    proc = subprocess.run(
        [jlpm, "test"],
        cwd=LABEXTENSION,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "# fail 0" in output, output[-6000:]
