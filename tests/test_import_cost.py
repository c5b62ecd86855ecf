"""`import notebook_tracker` stays cheap: nothing heavy loads until a call needs it."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "matplotlib", "sqlalchemy", "IPython", "numpy", "boto3", "tornado", "alembic")


def test_importing_the_package_loads_no_heavy_dependency():
    loaded = f"[m for m in {HEAVY!r} if m in sys.modules]"
    code = f"import sys, notebook_tracker; print(','.join({loaded}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names_resolve_lazily():
    code = (
        "import notebook_tracker as nt; print(nt.log_metric.__module__, nt.TrackingClient.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["notebook_tracker.fluent", "TrackingClient"]
