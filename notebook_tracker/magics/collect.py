"""Everything a finished tracked cell logs, gathered into one plan before anything is written."""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebook_tracker.cells import autolog
from notebook_tracker.magics import files, lineage, outputs
from notebook_tracker.magics.runner import CellOutcome
from notebook_tracker.magics.snapshot import read_snapshot

MAX_CAPTURED_FILES = 100
MAX_CAPTURED_BYTES = 200 * 1024 * 1024
ERROR_TAG_CHARS = 500


@dataclass
class LogPlan:
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)  # artifact path -> content
    local_files: list[tuple[str, str]] = field(default_factory=list)  # (file, artifact path)
    notes: list[str] = field(default_factory=list)  # told to the user on the card
    report: lineage.LineageReport | None = None


def status_of(error: BaseException | None) -> str:
    if error is None:
        return "FINISHED"
    return "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"


def error_summary(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip().rstrip(":")
    return text if len(text) <= ERROR_TAG_CHARS else text[: ERROR_TAG_CHARS - 3] + "..."


def add_autolog(
    plan: LogPlan,
    code: str | None,
    namespace: dict[str, Any],
    options: Any,
    logged: Callable[[], Any],
) -> None:
    """Params and metrics by the rules of `autolog`; what the cell logged itself wins.

    `logged()` gives the run's data as stored; it is asked only when there is something to
    log, so a cell that assigns nothing costs no query.
    """
    bindings = autolog.analyze_cell(code) if code is not None else None
    chosen = autolog.select(bindings, namespace, options.params, options.metrics, options.autolog)
    already_params: dict[str, str] = {}
    already_metrics: dict[str, float] = {}
    if chosen.params or chosen.metrics:
        data = logged()
        already_params, already_metrics = data.params, data.metrics
    for key, value in chosen.params.items():
        if key in already_params:
            if already_params[key] != value:
                plan.notes.append(f"param {key} kept as logged by the cell ({already_params[key]})")
            continue
        plan.params[key] = value
    for key, number in chosen.metrics.items():
        if key not in already_metrics:
            plan.metrics[key] = number
    for name, why in chosen.skipped.items():
        plan.notes.append(f"{name} not logged: {why}")
    if chosen.skipped:
        plan.tags["notebook_tracker.autolog.skipped"] = json.dumps(chosen.skipped, sort_keys=True)


def add_outputs(plan: LogPlan, body: str, outcome: CellOutcome) -> None:
    plan.blobs["cell/source.py"] = body.encode("utf-8")
    plan.blobs.update(outputs.output_files(outcome))
    if outcome.error is not None:
        plan.tags["notebook_tracker.error"] = error_summary(outcome.error)


def add_figures(plan: LogPlan, figures: dict[Any, bytes], errors: list[str]) -> None:
    for num, png in figures.items():
        name = num if isinstance(num, int) else str(num).replace("/", "_")
        plan.blobs[f"figures/figure-{name}.png"] = png
    plan.notes.extend(errors)


def add_files(
    plan: LogPlan,
    root: str,
    before: files.FileSnapshot | None,
    after: files.FileSnapshot | None,
    globs: list[str],
) -> None:
    """Files named by `--artifacts` (kept at their relative path) and files the cell created
    or modified (under `files/`), within the count and size caps."""
    explicit = files.expand_globs(globs, root) if globs else []
    taken = {path for path, _ in explicit}
    for path, rel in explicit:
        plan.local_files.append((path, posixpath.dirname(rel)))
    if globs and not explicit:
        plan.notes.append(f"--artifacts {' '.join(globs)} matched no file")
    if before is None or after is None:
        return
    found = files.changes(before, after)
    if found.skipped_reason:
        plan.tags["notebook_tracker.files"] = found.skipped_reason
        plan.notes.append(found.skipped_reason)
        return
    total = 0
    logged = 0
    for rel in found.changed:
        path = os.path.join(root, rel)
        if path in taken:
            continue
        size = after.entries[rel][1]
        if logged >= MAX_CAPTURED_FILES or total + size > MAX_CAPTURED_BYTES:
            plan.notes.append(
                f"{len(found.changed) - logged} more changed files not logged (caps: "
                f"{MAX_CAPTURED_FILES} files, {MAX_CAPTURED_BYTES // 2**20} MB); use --artifacts"
            )
            break
        rel_posix = Path(rel).as_posix()
        plan.local_files.append((path, posixpath.dirname(f"files/{rel_posix}")))
        total += size
        logged += 1
    for rel in found.too_large:
        plan.notes.append(f"{rel} not logged: larger than {files.MAX_FILE_BYTES // 2**20} MB")


def add_lineage(
    plan: LogPlan,
    history: list[lineage.Execution],
    current: lineage.Execution,
    notebook_file: Path | None,
    transform: Any,
    run_id: str,
    deleted: set[str] | frozenset[str] = frozenset(),
) -> None:
    cells, saved_at = None, None
    if notebook_file is not None:
        try:
            saved = read_snapshot(notebook_file)
        except (OSError, ValueError, AttributeError, TypeError) as error:
            plan.notes.append(f"the notebook file could not be read: {error}")
        else:
            cells, saved_at = saved.cells, saved.saved_at
            plan.blobs["notebook/snapshot.ipynb"] = saved.stripped
    report = lineage.analyze_lineage(history, current, cells, saved_at, deleted)
    plan.report = report
    plan.tags["notebook_tracker.hidden_state"] = "true" if report.hidden_state else "false"
    header = (
        f"# The code this kernel ran before run {run_id} (In[{current.count}]), in order.\n"
        "# Replay it with: ipython replay.py   (tracked cells replay as plain code)\n"
    )
    plan.blobs["lineage/replay.py"] = lineage.replay_script(history, transform, header).encode()
    plan.blobs["lineage/report.json"] = json.dumps(report.to_dict()).encode()


def summary(plan: LogPlan) -> list[str]:
    """What the plan logs besides params and metrics, in a few words for the card."""

    def count(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    paths = list(plan.blobs)
    items = []
    figures = sum(p.startswith("figures/") for p in paths)
    if figures:
        items.append(count(figures, "figure"))
    displays = sum(p.startswith(("outputs/display-", "outputs/result.")) for p in paths)
    if displays:
        items.append(count(displays, "output file"))
    for stream in ("stdout", "stderr"):
        if f"outputs/{stream}.txt" in plan.blobs:
            items.append(stream)
    if plan.local_files:
        items.append(count(len(plan.local_files), "file"))
    if "notebook/snapshot.ipynb" in plan.blobs:
        items.append("notebook snapshot")
    if "git/diff.patch" in plan.blobs:
        items.append("git diff")
    return items
