"""Projects figures: what `notebook-tracker run` adds around a trivial entry point.

    python benchmarks/bench_projects.py [--repeat 7]

1. `--env-manager local`: wall time of `notebook-tracker run PROJECT --env-manager local` on an
   entry point that runs `python trivial.py`, minus the wall time of `python trivial.py` alone:
   the overhead (CLI startup, spec parsing, run creation, params and tags, child process, output
   capture and upload, final status). With MLflow installed, `mlflow run PROJECT --env-manager
   local` on the same project and a SQLite store is measured the same way, side by side.
2. `--env-manager virtualenv`, second and later runs (the venv is cached): the same overhead,
   against `python trivial.py` run by the venv's interpreter. The first run (building the venv
   with one small PyPI dependency) is printed for reference.

Each figure is the median of --repeat runs after one warm-up run (which also creates the stores'
schemas). Every process is cold: the machine's load shows, so compare the columns, not runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRIVIAL = "print('hello from the entry point')\n"
MLPROJECT = """name: bench
python_env: python_env.yaml
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
    command: "python trivial.py --alpha {alpha}"
"""


def python_env() -> str:
    major, minor = sys.version_info[:2]
    return f"python: '{major}.{minor}'\ndependencies:\n  - six==1.16.0\n"


def wall(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return took


def median_wall(cmd: list[str], env: dict[str, str], cwd: Path, repeat: int) -> float:
    wall(cmd, env, cwd)  # warm-up: schemas, caches, the OS's file cache
    return statistics.median(wall(cmd, env, cwd) for _ in range(repeat))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.0f} ms"


def row(label: str, total: float, baseline: float | None = None) -> None:
    extra = f"   overhead {ms(total - baseline)}" if baseline is not None else ""
    print(f"  {label:<44} {ms(total)}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nt-bench-projects-"))
    try:
        project = work / "project"
        project.mkdir()
        (project / "MLproject").write_text(MLPROJECT)
        (project / "python_env.yaml").write_text(python_env())
        (project / "trivial.py").write_text(TRIVIAL)
        base_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("NOTEBOOK_", "MLFLOW_"))
        }
        nt_env = {
            **base_env,
            "NOTEBOOK_TRACKER_URI": f"sqlite:///{work / 'nt' / 'tracker.db'}",
            "NOTEBOOK_TRACKER_CACHE_DIR": str(work / "cache"),
        }
        nt = [sys.executable, "-m", "notebook_tracker.cli", "run", str(project)]
        bare = median_wall([sys.executable, "trivial.py"], base_env, project, args.repeat)

        print(
            f"notebook-tracker run, trivial entry point (median of {args.repeat}, cold processes)"
        )
        row("python trivial.py alone", bare)
        local = median_wall([*nt, "--env-manager", "local"], nt_env, project, args.repeat)
        row("notebook-tracker run --env-manager local", local, bare)

        if shutil.which("mlflow"):
            ml_env = {
                **base_env,
                "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow' / 'mlflow.db'}",
            }
            (work / "mlflow").mkdir()
            mlflow = [
                shutil.which("mlflow") or "mlflow",
                "run",
                str(project),
                "--env-manager",
                "local",
            ]
            ml = median_wall(mlflow, ml_env, work / "mlflow", args.repeat)
            row("mlflow run --env-manager local", ml, bare)
            ratio = (ml - bare) / max(local - bare, 1e-9)
            print(f"  overhead ratio mlflow / notebook-tracker: {ratio:.1f}x")
        else:
            print("  (mlflow not installed: no side-by-side figure)")

        start = time.perf_counter()
        wall([*nt, "--env-manager", "virtualenv"], nt_env, project)
        first = time.perf_counter() - start
        venv_python = next((work / "cache" / "envs").glob("venv-*/bin/python"))
        bare_venv = median_wall([str(venv_python), "trivial.py"], base_env, project, args.repeat)
        cached = median_wall([*nt, "--env-manager", "virtualenv"], nt_env, project, args.repeat)
        print()
        print("virtualenv env manager (python_env.yaml with one PyPI dependency)")
        row("first run (builds the venv)", first)
        row("venv python trivial.py alone", bare_venv)
        row("later runs (venv cached)", cached, bare_venv)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
