"""Python kernels of the IPython/ipykernel generations people use, for browser tests.

`.ci/run` prepares one virtualenv per generation under `NOTEBOOK_TRACKER_TEST_KERNELS_DIR`
(default `/tmp/nbt-kernels`), each seeing this environment's packages (notebook-tracker
included) with its own IPython and ipykernel on top, and one (`nb7`) with Notebook 7.
`install_kernelspec` makes the kernels those of a Jupyter data dir, named `nbt-<generation>`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

KERNELS_DIR_ENV = "NOTEBOOK_TRACKER_TEST_KERNELS_DIR"
DEFAULT_KERNELS_DIR = "/tmp/nbt-kernels"
# generation name -> (ipykernel major, IPython major) it must hold
GENERATIONS = {"ipy9": (7, 9), "ipy8": (6, 8)}
PREPARE_HINT = (
    "python -m venv --system-site-packages {dir} && {dir}/bin/pip install {reqs} "
    "(.ci/run does this)"
)
REQUIREMENTS = {
    "ipy9": "'ipykernel>=7,<8' 'ipython>=9,<10'",
    "ipy8": "'ipykernel>=6.25,<7' 'ipython>=8.20,<9'",
}


@dataclass(frozen=True)
class Kernel:
    name: str  # the kernelspec name
    python: str
    versions: str  # "ipykernel X / IPython Y", as the kernel reports them


def _versions(python: str) -> tuple[int, int, str] | None:
    code = "import ipykernel, IPython; print(ipykernel.__version__, IPython.__version__)"
    try:
        out = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=60, check=True
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    kernel, ipython = out
    return (
        int(kernel.split(".")[0]),
        int(ipython.split(".")[0]),
        f"ipykernel {kernel} / IPython {ipython}",
    )


# Cached: asking a venv's Python for its versions starts it and imports IPython (1-3 s), and
# every lineage case asks; the venvs do not change during a session.
@cache
def find_kernel(generation: str) -> Kernel | str:
    """The kernel of `generation`, or why it is not available (with how to prepare it)."""
    if generation == "main":
        found = _versions(sys.executable)
        assert found is not None
        return Kernel("python3", sys.executable, found[2])
    folder = Path(os.environ.get(KERNELS_DIR_ENV) or DEFAULT_KERNELS_DIR) / generation
    python = folder / "bin" / "python"
    hint = PREPARE_HINT.format(dir=folder, reqs=REQUIREMENTS[generation])
    if not python.exists():
        return f"no {generation} kernel at {folder}: {hint}"
    found = _versions(str(python))
    want = GENERATIONS[generation]
    if found is None or found[:2] != want:
        got = found[2] if found else "no ipykernel/IPython"
        return f"{folder} holds {got}, not ipykernel {want[0]} / IPython {want[1]}: {hint}"
    return Kernel(f"nbt-{generation}", str(python), found[2])


def install_kernelspec(data_dir: Path, kernel: Kernel) -> None:
    """Make `kernel` a kernel of the Jupyter data dir `data_dir`."""
    if kernel.name == "python3":
        return  # the server's own environment provides it
    spec = data_dir / "kernels" / kernel.name
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [kernel.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": f"Python ({kernel.versions})",
                "language": "python",
                "metadata": {"debugger": False},
            }
        )
    )


@cache
def find_notebook7() -> str | None:
    """A Python with Notebook 7 on top of this environment (`.ci/run` prepares it), or None."""
    folder = Path(os.environ.get(KERNELS_DIR_ENV) or DEFAULT_KERNELS_DIR) / "nb7"
    python = folder / "bin" / "python"
    if not python.exists():
        return None
    code = "import notebook, sys; sys.exit(int(notebook.__version__.split('.')[0]) != 7)"
    try:
        subprocess.run([python, "-c", code], capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return str(python)
