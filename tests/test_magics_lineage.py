"""Lineage: the replay script and the hidden-state flags, from executions and a saved notebook."""

from __future__ import annotations

import json
import subprocess
import sys

from notebook_tracker.magics.lineage import (
    Execution,
    NotebookCell,
    analyze_lineage,
    notebook_cells,
    read_names,
    replay_script,
    unwrap_tracked,
)


def ex(count: int, source: str, cell_id: str | None = None, failed: bool = False) -> Execution:
    return Execution(count, source, source, cell_id, failed)


def nb(*sources: str, ids: bool = True, counts: list | None = None) -> list[NotebookCell]:
    return [
        NotebookCell(i, f"c{i}" if ids else None, s, counts[i] if counts else None)
        for i, s in enumerate(sources)
    ]


def test_read_names_are_the_names_a_cell_takes_from_the_kernel():
    code = (
        "y = x + 1\nz = y * w\ndef f(a):\n    b = a\n    return b + g\n"
        "[k for k in items]\nimport os\nos.getcwd()\n"
    )
    assert read_names(code) == {"x", "w", "g", "items"}


def test_notebook_run_in_order_has_no_hidden_state():
    cells = nb("a = 1", "b = a + 1", "%%track_run\nc = b * 2")
    history = [ex(1, "a = 1", "c0"), ex(2, "b = a + 1", "c1")]
    current = Execution(3, "%%track_run\nc = b * 2", "c = b * 2", "c2")
    report = analyze_lineage(history, current, cells)
    assert not report.hidden_state and report.reasons == []
    assert [e["state"] for e in report.executions] == ["current", "current"]


def test_cells_run_out_of_order_are_flagged():
    cells = nb("a = 1", "b = 2", "%%track_run\nc = a + b")
    history = [ex(1, "b = 2", "c1"), ex(2, "a = 1", "c0")]
    current = Execution(3, cells[2].source, "c = a + b", "c2")
    report = analyze_lineage(history, current, cells)
    assert report.hidden_state
    assert report.out_of_order == [{"index": 1, "count": 1, "after_index": 0, "after_count": 2}]
    assert "cell 1 (In[2]) ran after cell 2 (In[1]) below it" in report.reasons[0]


def test_running_a_cell_again_then_the_cells_below_restores_order():
    cells = nb("a = 1", "b = a", "%%track_run\nc = b")
    history = [
        ex(1, "a = 1", "c0"),
        ex(2, "b = a", "c1"),
        ex(3, "a = 1", "c0"),
        ex(4, "b = a", "c1"),
    ]
    report = analyze_lineage(history, Execution(5, cells[2].source, "c = b", "c2"), cells)
    assert report.out_of_order == [] and not report.hidden_state
    stale = analyze_lineage(history[:3], Execution(4, cells[2].source, "c = b", "c2"), cells)
    assert [o["index"] for o in stale.out_of_order] == [1]  # b ran before the new a


def test_cells_below_the_tracked_cell_do_not_count_for_order():
    cells = nb("a = 1", "%%track_run\nb = a", "c = 3")
    history = [ex(1, "a = 1", "c0"), ex(2, "c = 3", "c2")]
    report = analyze_lineage(history, Execution(3, cells[1].source, "b = a", "c1"), cells)
    assert report.out_of_order == []


def test_cell_edited_after_it_ran_is_flagged_by_cell_id():
    cells = nb("a = 2", "%%track_run\nb = a")  # the notebook now says a = 2
    history = [ex(1, "a = 1", "c0")]
    report = analyze_lineage(history, Execution(2, cells[1].source, "b = a", "c1"), cells)
    assert report.edited_after_run == [{"count": 1, "notebook_index": 0}]
    assert report.stale_names == {"a": 1}
    assert report.hidden_state


def test_an_edited_cell_run_again_is_no_longer_flagged():
    cells = nb("a = 2", "%%track_run\nb = a")
    history = [ex(1, "a = 1", "c0"), ex(2, "a = 2", "c0")]
    report = analyze_lineage(history, Execution(3, cells[1].source, "b = a", "c1"), cells)
    assert not report.hidden_state


def test_re_running_the_tracked_cell_after_editing_it_is_not_hidden_state():
    cells = nb("x = 1", "%%track_run\ny = x * 3")
    history = [ex(1, "x = 1", "c0"), ex(2, "%%track_run\ny = x * 2", "c1")]
    report = analyze_lineage(history, Execution(3, cells[1].source, "y = x * 3", "c1"), cells)
    assert not report.hidden_state


def test_names_defined_by_deleted_code_are_flagged_without_cell_ids():
    cells = nb("a = 1", "%%track_run\nc = a + secret", ids=False)
    history = [ex(1, "a = 1"), ex(2, "secret = 42")]  # the cell defining `secret` is gone
    current = Execution(3, cells[1].source, "c = a + secret")
    report = analyze_lineage(history, current, cells)
    assert report.stale_names == {"secret": 2}
    assert report.executions[1]["state"] == "gone"
    assert "secret (In[2])" in report.reasons[-1]


def test_saved_execution_counts_find_edited_cells_without_ids():
    cells = nb("a = 5", "b = 1", "%%track_run\nc = a", ids=False, counts=[1, 2, None])
    history = [ex(1, "a = 1"), ex(2, "b = 1")]
    report = analyze_lineage(history, Execution(3, cells[2].source, "c = a"), cells)
    assert report.edited_after_run == [{"count": 1, "notebook_index": 0}]
    assert report.stale_names == {"a": 1}


def test_execution_counts_of_a_previous_kernel_session_are_ignored():
    # Saved counts from an older session match nothing this kernel ran: do not trust them.
    cells = nb("a = 5", "b = 7", "%%track_run\nc = 1", ids=False, counts=[1, 2, None])
    history = [ex(1, "q = 1"), ex(2, "r = 2")]
    report = analyze_lineage(history, Execution(3, cells[2].source, "c = 1"), cells)
    assert report.edited_after_run == []
    assert [e["state"] for e in report.executions] == ["gone", "gone"]


def test_unknown_notebook_skips_checks_honestly():
    report = analyze_lineage([ex(1, "a = 1")], Execution(2, "b = a", "b = a"), None)
    assert not report.notebook_known and not report.hidden_state
    assert "unknown" in report.reasons[0]
    assert report.to_dict()["executions"][0]["state"] == "unknown"


def test_notebook_cells_reads_ipynb_json():
    raw = json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [
                {"cell_type": "markdown", "id": "m", "source": "# title", "metadata": {}},
                {
                    "cell_type": "code",
                    "id": "k",
                    "source": ["a = 1\n", "b = 2"],
                    "execution_count": 4,
                    "metadata": {},
                    "outputs": [],
                },
            ],
        }
    ).encode()
    (cell,) = notebook_cells(raw)
    assert (cell.index, cell.cell_id, cell.source, cell.execution_count) == (
        1,
        "k",
        "a = 1\nb = 2",
        4,
    )


def test_unwrap_tracked_takes_the_body_of_tracked_cells_only():
    assert unwrap_tracked("%%track_run x -p a\nlr = 1\n") == "lr = 1\n"
    assert unwrap_tracked("%%run_experiment\nlr = 1") == "lr = 1"
    assert unwrap_tracked("%%time\nlr = 1") is None
    assert unwrap_tracked("lr = 1") is None


def test_replay_script_runs_and_rebuilds_the_kernel_state(tmp_path):
    history = [
        ex(1, "a = 2"),
        Execution(2, "%%track_run t\nb = a * 3", "get_ipython().run_cell_magic(...)"),
        ex(3, "c = 1 / 0", failed=True),
        ex(4, "d = a + b\nprint('state', a, b, d)"),
    ]
    script = replay_script(history, transform=lambda body: body, header="# header\n")
    assert script.startswith("# header")
    assert "run_cell_magic" not in script  # tracked cells replay as their bodies
    path = tmp_path / "replay.py"
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "In[3] raised ZeroDivisionError" in done.stdout
    assert "state 2 6 8" in done.stdout
