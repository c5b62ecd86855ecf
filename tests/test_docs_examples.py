"""Every ```python block of the README and docs/*.md runs, in order, in a fresh process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _pages_with_examples() -> list[Path]:
    return [p for p in PAGES if p.exists() and BLOCK.search(p.read_text())]


@pytest.mark.parametrize("page", _pages_with_examples(), ids=lambda p: p.name)
def test_documented_examples_run(page: Path, tmp_path: Path) -> None:
    script = "\n\n".join(BLOCK.findall(page.read_text()))
    env = {
        **__import__("os").environ,
        "NOTEBOOK_TRACKER_URI": f"sqlite:///{tmp_path / 'store' / 'tracker.db'}",
        "MPLBACKEND": "Agg",
    }
    env.pop("NOTEBOOK_TRACKER_ARTIFACT_ROOT", None)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{page.name} examples failed:\n{result.stderr[-3000:]}"
