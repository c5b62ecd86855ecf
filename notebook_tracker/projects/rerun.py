"""Rerun a `%%track_run` run as a headless job, with some of its params changed.

The code comes from the run's own artifacts: its lineage (`lineage/replay.py`, everything the
kernel ran before the cell, plus `cell/source.py`), else its notebook snapshot up to that cell.
Overridden params are rewritten where the code assigns them a literal. The code runs in a fresh
kernel as a notebook; afterwards the cell's params and metrics are logged by the same rules
`%%track_run` uses, into a new run tagged `notebook_tracker.rerun_of`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebook_tracker.client import TrackingClient, current_user
from notebook_tracker.errors import NotFound, ProjectError
from notebook_tracker.projects.notebooks import coerce_like
from notebook_tracker.projects.params import parse_param_args
from notebook_tracker.projects.rewrite import literal_sites, rewrite_literals

REPLAY = "lineage/replay.py"
CELL = "cell/source.py"
SNAPSHOT = "notebook/snapshot.ipynb"
RERUN_OF = "notebook_tracker.rerun_of"
_COPIED_TAGS = (
    "mlflow.source.name",
    "notebook_tracker.notebook_path",
    "notebook_tracker.cell_id",
    "mlflow.source.git.commit",
    "mlflow.source.git.branch",
    "mlflow.source.git.repoURL",
)


@dataclass
class ReplayPlan:
    """The code to run: earlier cells, then the tracked cell, and where it came from."""

    before: list[str]
    cell: str
    mode: str  # "lineage" | "snapshot"
    track_line: str = ""  # the `%%track_run ...` line of the cell, if known
    rewritten: set[str] = field(default_factory=set)


def rerun(
    run_id: str,
    parameters: dict[str, Any] | list[str] | None = None,
    tracking_uri: str | None = None,
    run_name: str | None = None,
    output: Callable[[str, str], None] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Any:
    """Re-execute the code behind `run_id` with `parameters` overridden; returns a ProjectRun."""
    from notebook_tracker.projects.process import terminal_output
    from notebook_tracker.projects.runner import Job, execute_job
    from notebook_tracker.projects.spec import EntryPoint, ProjectSpec

    client = TrackingClient(tracking_uri)
    original = client.get_run(run_id)
    overrides = (
        parse_param_args(parameters)
        if isinstance(parameters, list)
        else {str(k): str(v) for k, v in (parameters or {}).items()}
    )
    plan = load_plan(client, original)
    apply_overrides(plan, overrides)
    workdir = Path(cwd) if cwd is not None else _working_dir(original.data.tags)
    tags = {
        "mlflow.user": current_user(),
        "mlflow.source.type": "JOB",
        "mlflow.project.env": "local",
        RERUN_OF: run_id,
        "notebook_tracker.rerun.mode": plan.mode,
        **{k: original.data.tags[k] for k in _COPIED_TAGS if k in original.data.tags},
    }
    if overrides:
        tags["notebook_tracker.rerun.overrides"] = json.dumps(overrides, sort_keys=True)
    name = run_name or f"{original.info.run_name or run_id[:8]}-rerun"
    with tempfile.TemporaryDirectory(prefix="nt-rerun-") as tmp:
        notebook = Path(tmp) / "rerun.ipynb"
        write_notebook(plan, notebook)
        entry = EntryPoint("rerun", None, notebook=notebook)
        job = Job(workdir, entry, None, {}, {}, kernel_cwd=workdir)
        spec = ProjectSpec(workdir, "rerun", {})
        return execute_job(
            client,
            original.info.experiment_id,
            job,
            spec,
            "local",
            name,
            tags,
            output or terminal_output,
        )


def _working_dir(tags: dict[str, str]) -> Path:
    """The notebook's folder when it can be found here (relative data paths then work)."""
    path = tags.get("notebook_tracker.notebook_path") or tags.get("mlflow.source.name")
    if path and path != "unknown":
        folder = Path(path).expanduser().parent
        if folder.is_dir():
            return folder.resolve()
    return Path.cwd()


# -- finding the code ------------------------------------------------------------------------
def _read(client: TrackingClient, run: Any, path: str) -> str | None:
    from notebook_tracker.artifacts import get_artifact_repository

    repo = get_artifact_repository(run.info.artifact_uri)
    try:
        with repo.open_read(path) as stream:
            return stream.read().decode("utf-8")
    except (NotFound, FileNotFoundError):
        return None


def load_plan(client: TrackingClient, run: Any) -> ReplayPlan:
    run_id = run.info.run_id
    cell = _read(client, run, CELL)
    replay = _read(client, run, REPLAY)
    snapshot = _read(client, run, SNAPSHOT)
    if cell is not None and replay is not None:
        track_line, body = split_track_line(cell)
        if not track_line and snapshot is not None:
            # The magic's options (-p/-m names) live on the cell's first line in the notebook.
            try:
                track_line = _plan_from_snapshot(run, snapshot, cell).track_line
            except ProjectError:
                pass
        return ReplayPlan([replay], body, "lineage", track_line)
    if snapshot is not None:
        return _plan_from_snapshot(run, snapshot, cell)
    raise ProjectError(
        f"Run {run_id} has no replayable code: it has neither {REPLAY} with {CELL} nor "
        f"{SNAPSHOT} among its artifacts. Only runs recorded by %%track_run can be rerun."
    )


def split_track_line(source: str) -> tuple[str, str]:
    """(`%%track_run ...` line or "", the cell body)."""
    stripped = source.lstrip("\n")
    first, _, body = stripped.partition("\n")
    if first.startswith("%%") and first[2:].split()[:1] in (["track_run"], ["run_experiment"]):
        return first, body
    return "", source


def _normalize(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _plan_from_snapshot(run: Any, snapshot: str, cell_source: str | None) -> ReplayPlan:
    try:
        data = json.loads(snapshot)
    except ValueError:
        raise ProjectError(f"Run {run.info.run_id}: {SNAPSHOT} is not a valid notebook.") from None
    cells = []
    for cell in data.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            cells.append((cell.get("id"), "".join(src) if isinstance(src, list) else src))
    cell_id = run.data.tags.get("notebook_tracker.cell_id")
    target = next((i for i, (cid, _) in enumerate(cells) if cell_id and cid == cell_id), None)
    if target is None and cell_source is not None:
        wanted = _normalize(split_track_line(cell_source)[1])
        target = next(
            (i for i, (_, s) in enumerate(cells) if _normalize(split_track_line(s)[1]) == wanted),
            None,
        )
    if target is None:
        raise ProjectError(
            f"Run {run.info.run_id} has no replayable code: its cell was not found in "
            f"{SNAPSHOT} (no matching cell id or source)."
        )
    before = [split_track_line(src)[1] for _, src in cells[:target]]
    track_line, body = split_track_line(cells[target][1])
    return ReplayPlan(before, body, "snapshot", track_line)


# -- overriding params -----------------------------------------------------------------------
def _python_of(code: str) -> str:
    """Plain Python for code that may hold IPython syntax (magics, `!cmd`)."""
    if literal_sites(code) is not None:
        return code
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return code
    return TransformerManager().transform_cell(code)


def apply_overrides(plan: ReplayPlan, overrides: dict[str, str]) -> None:
    """Rewrite the literal assignments of every overridden name; explain any that cannot be."""
    if not overrides:
        return
    codes = [_python_of(c) for c in [*plan.before, plan.cell]]
    examples: dict[str, Any] = {}
    for code in codes:  # the last assignment before the end decides the type
        for site in literal_sites(code) or []:
            examples[site.name] = site.value
    missing = [name for name in overrides if name not in examples]
    if missing:
        cell_names = sorted({s.name for s in literal_sites(codes[-1]) or []})
        raise ProjectError(
            f"Cannot override {', '.join(missing)}: the replayed code never assigns "
            f"{'it' if len(missing) == 1 else 'them'} a literal at top level. Names that can be "
            f"overridden in the cell: {', '.join(cell_names) or 'none'}."
        )
    values = {}
    problems = []
    for name, raw in overrides.items():
        try:
            values[name] = coerce_like(raw, examples[name], name)
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise ProjectError("Invalid overrides: " + "; ".join(problems) + ".")
    rewritten: list[str] = []
    for code in codes:
        new, names = rewrite_literals(code, values)
        rewritten.append(new)
        plan.rewritten |= names
    plan.before, plan.cell = rewritten[:-1], rewritten[-1]


# -- the notebook that runs ------------------------------------------------------------------
def write_notebook(plan: ReplayPlan, path: Path) -> None:
    import nbformat

    cells = [nbformat.v4.new_code_cell(code) for code in plan.before if code.strip()]
    cells.append(nbformat.v4.new_code_cell(plan.cell, metadata={"tags": ["rerun-cell"]}))
    epilogue = (
        "# Logged by notebook-tracker: the cell's params and metrics, by %%track_run's rules\n"
        "from notebook_tracker.projects.rerun import log_cell_results as _nt_log\n"
        f"_nt_log({plan.cell!r}, {plan.track_line!r}, globals())\n"
    )
    cells.append(nbformat.v4.new_code_cell(epilogue, metadata={"tags": ["rerun-autolog"]}))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def log_cell_results(cell: str, track_line: str, namespace: dict[str, Any]) -> None:
    """In the rerun's kernel: log what `%%track_run` would have logged for `cell`."""
    import notebook_tracker as nt

    try:
        from notebook_tracker.cells.autolog import analyze_cell, select
    except ImportError:  # auto-logging rules unavailable: explicit nt.log_* calls still count
        return
    extra_params: list[str] = []
    extra_metrics: list[str] = []
    autolog = True
    if track_line:
        try:
            from notebook_tracker.cells.arguments import parse_track_line

            options = parse_track_line(track_line.split(None, 1)[1] if " " in track_line else "")
            extra_params, extra_metrics, autolog = options.params, options.metrics, options.autolog
        except Exception:  # an option this version does not know: keep the defaults
            pass
    result = select(analyze_cell(_python_of(cell)), namespace, extra_params, extra_metrics, autolog)
    run = nt.active_run() or nt.start_run()
    if result.params:
        existing = nt.get_run(run.info.run_id).data.params
        fresh = {k: v for k, v in result.params.items() if k not in existing}
        if fresh:
            nt.log_params(fresh)
    if result.metrics:
        nt.log_metrics(result.metrics)
    nt.flush()
