"""Lineage flags only what the evidence shows: save times, deleted, repeated and skipped cells,
and the execution numbers of both IPython generations."""

from __future__ import annotations

import json
from types import SimpleNamespace

from notebook_tracker.magics.history import ExecutionRecorder, current_execution
from notebook_tracker.magics.lineage import Execution, NotebookCell, analyze_lineage
from notebook_tracker.magics.notebook_path import from_working_dir

T0 = 1_000_000.0  # an arbitrary clock: executions start at T0 + count


def ex(count: int, source: str, cell_id: str | None = None) -> Execution:
    return Execution(count, source, source, cell_id, started=T0 + count)


def nb(*sources: str) -> list[NotebookCell]:
    return [NotebookCell(i, f"c{i}", s, None) for i, s in enumerate(sources)]


TRACKED = "%%track_run\nc = a + b"


def current(count: int, cell_id: str = "c2") -> Execution:
    return Execution(count, TRACKED, "c = a + b", cell_id, started=T0 + count)


def test_an_edit_saved_before_the_cell_ran_is_not_hidden_state():
    cells = nb("a = 1", "b = 2", TRACKED)  # the file still says a = 1
    history = [ex(1, "a = 10", "c0"), ex(2, "b = 2", "c1")]  # the edit ran, unsaved
    report = analyze_lineage(history, current(3), cells, saved_at=T0)
    assert not report.hidden_state, report.reasons
    assert report.executions[0]["state"] == "unsaved"


def test_an_edit_saved_after_the_cell_ran_is_flagged():
    cells = nb("a = 10", "b = 2", TRACKED)
    history = [ex(1, "a = 1", "c0"), ex(2, "b = 2", "c1")]
    report = analyze_lineage(history, current(3), cells, saved_at=T0 + 2.5)
    assert report.edited_after_run == [{"count": 1, "notebook_index": 0}]
    assert report.stale_names == {"a": 1}


def test_a_new_cell_not_yet_saved_is_neither_flagged_nor_gone():
    cells = nb("a = 1", "b = 2", TRACKED)
    history = [ex(1, "a = 1", "c0"), ex(2, "b = 2", "c1"), ex(3, "z = 5", "new")]
    report = analyze_lineage(history, current(4), cells, saved_at=T0)
    assert not report.hidden_state
    assert report.executions[2]["state"] == "unsaved"


def test_a_cell_the_front_end_reports_deleted_is_gone_even_unsaved():
    cells = nb("a = 1", "b = 2", TRACKED)  # saved before the deletion
    history = [ex(1, "a = 1", "c0"), ex(2, "b = 2", "c1")]
    report = analyze_lineage(history, current(3), cells, saved_at=T0, deleted={"c1"})
    assert report.stale_names == {"b": 2} and report.hidden_state


def test_a_cell_that_changes_what_it_reads_run_twice_is_flagged():
    cells = nb("a = 1\nb = []", "b.append(a)", "%%track_run\nc = len(b)")
    tracked = Execution(4, cells[2].source, "c = len(b)", "c2", started=T0 + 4)
    history = [ex(1, cells[0].source, "c0"), ex(2, "b.append(a)", "c1"), ex(3, "b.append(a)", "c1")]
    report = analyze_lineage(history, tracked, cells, saved_at=T0)
    assert report.repeated == [{"index": 1, "counts": [2, 3], "names": ["b"]}]
    assert "ran 2 times" in report.reasons[0]


def test_rebinding_in_between_resets_a_repeated_cell():
    cells = nb("a = 1\nb = []", "b.append(a)", "%%track_run\nc = len(b)")
    tracked = Execution(5, cells[2].source, "c = len(b)", "c2", started=T0 + 5)
    history = [
        ex(1, cells[0].source, "c0"),
        ex(2, "b.append(a)", "c1"),
        ex(3, cells[0].source, "c0"),
        ex(4, "b.append(a)", "c1"),
    ]
    report = analyze_lineage(history, tracked, cells, saved_at=T0)
    assert not report.hidden_state, report.reasons


def test_an_idempotent_cell_run_twice_is_not_flagged():
    cells = nb("a = 1", "b = 2", TRACKED)
    history = [ex(1, "a = 1", "c0"), ex(2, "a = 1", "c0"), ex(3, "b = 2", "c1")]
    assert not analyze_lineage(history, current(4), cells, saved_at=T0).hidden_state


def test_the_tracked_cell_changing_its_own_input_is_flagged_on_its_second_run():
    cells = nb("s = []", "%%track_run\ns.append(1)")
    first = Execution(2, cells[1].source, "s.append(1)", "c1", started=T0 + 2)
    again = Execution(3, cells[1].source, "s.append(1)", "c1", started=T0 + 3)
    history = [ex(1, "s = []", "c0")]
    assert not analyze_lineage(history, first, cells, saved_at=T0).hidden_state
    report = analyze_lineage([*history, first], again, cells, saved_at=T0)
    assert report.repeated and report.repeated[0]["names"] == ["s"]


def test_a_skipped_cell_that_sets_what_the_tracked_cell_reads_is_flagged():
    cells = nb("a = 1", "a = 2", "b = 3", TRACKED)  # cell 2 would set a = 2
    tracked = Execution(3, TRACKED, "c = a + b", "c3", started=T0 + 3)
    history = [ex(1, "a = 1", "c0"), ex(2, "b = 3", "c2")]
    report = analyze_lineage(history, tracked, cells, saved_at=T0)
    assert report.misplaced == [{"name": "a", "index": 1, "why": "skipped"}]


def test_a_skipped_cell_whose_names_are_set_later_anyway_is_not_flagged():
    cells = nb("a = 2", "a = 1", "b = 3", TRACKED)  # the last binder of a ran
    tracked = Execution(3, TRACKED, "c = a + b", "c3", started=T0 + 3)
    history = [ex(1, "a = 1", "c1"), ex(2, "b = 3", "c2")]
    assert not analyze_lineage(history, tracked, cells, saved_at=T0).hidden_state


def test_a_name_last_set_by_a_cell_below_is_flagged():
    cells = nb("a = 1", "b = 2", TRACKED, "a = 99")
    history = [ex(1, "a = 1", "c0"), ex(2, "b = 2", "c1"), ex(3, "a = 99", "c3")]
    report = analyze_lineage(history, current(4), cells, saved_at=T0)
    assert report.misplaced == [{"name": "a", "index": 3, "count": 3, "why": "below"}]


class _Shell:
    """Just what the recorder reads of an IPython shell and its kernel."""

    def __init__(self, metadata: dict) -> None:
        self.kernel = SimpleNamespace(get_parent=lambda channel=None: {"metadata": metadata})
        self.displayhook = SimpleNamespace(exec_result=None)
        self.execution_count = 1
        self.events = SimpleNamespace(register=lambda *a: None)


def _result(count: int, cell_id: str | None) -> SimpleNamespace:
    info = SimpleNamespace(store_history=True, cell_id=cell_id)
    return SimpleNamespace(execution_count=count, info=info, success=True)


def test_the_cell_number_is_the_cells_own_whatever_the_counter_says():
    # IPython 9 has already counted the running cell (counter 8 while In[7] runs), IPython 8
    # has not (counter 7): both report 7 for the cell itself.
    for counter in (7, 8):
        shell = _Shell({"cellId": "from-header"})
        shell.execution_count = counter
        shell.displayhook.exec_result = _result(7, None)
        assert current_execution(shell) == (7, "from-header")


def test_the_recorder_keys_cell_ids_by_the_number_the_kernel_reports():
    shell = _Shell({"cellId": "cell-x", "deletedCells": ["old-1"]})
    recorder = ExecutionRecorder()
    recorder.attach(shell)
    recorder.pre_run_cell(SimpleNamespace(store_history=True, cell_id=None))
    recorder.post_run_cell(_result(3, None))
    assert recorder.cell_ids == {3: "cell-x"} and recorder.deleted == {"old-1"}
    assert 3 in recorder.started


def test_a_headless_kernel_finds_the_one_notebook_of_its_folder_holding_the_cell(tmp_path):
    cell = "%%track_run\nx = 1"

    def write(name: str, source: str) -> None:
        nb_json = {"cells": [{"cell_type": "code", "source": source, "metadata": {}}]}
        (tmp_path / name).write_text(json.dumps(nb_json))

    write("train.ipynb", cell)
    write("other.ipynb", "y = 2")
    found = from_working_dir(tmp_path, cell + "\n")
    assert found is not None and found.file == tmp_path / "train.ipynb"
    assert found.source == "working-dir"
    write("train-output.ipynb", cell)  # papermill's output beside its input: ambiguous
    assert from_working_dir(tmp_path, cell) is None


def test_a_notebook_run_headless_in_its_folder_records_its_path_and_no_hidden_state(
    tmp_path, monkeypatch
):
    import nbformat
    from nbclient import NotebookClient

    from notebook_tracker.client import TrackingClient

    cells = ["%load_ext notebook_tracker", "a = 1", "%%track_run headless\nb = a + 1"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in cells])
    nbformat.write(nb, tmp_path / "headless.ipynb")
    uri = f"sqlite:///{tmp_path / 'store' / 'tracker.db'}"
    monkeypatch.setenv("NOTEBOOK_TRACKER_URI", uri)
    monkeypatch.delenv("NOTEBOOK_TRACKER_ARTIFACT_ROOT", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    # As `jupyter execute headless.ipynb` runs it: in the notebook's folder, nothing else said.
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    client = TrackingClient(uri)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    tags = run.data.tags
    assert tags["notebook_tracker.notebook_path_source"] == "working-dir"
    assert tags["notebook_tracker.notebook_path"] == str((tmp_path / "headless.ipynb").resolve())
    assert tags["notebook_tracker.hidden_state"] == "false"
    assert tags["notebook_tracker.execution_count"] == "3"


def test_names_bound_by_a_tracked_cell_count_as_its_body_binds_them():
    # In the kernel a tracked cell is a magic call; its body is what binds `w`.
    cells = nb("%%track_run\nw = 1", "%%track_run\nw = 2", "%%track_run\nr = w * 3")
    raw = [c.source for c in cells]
    magic = "get_ipython().run_cell_magic('track_run', '', {!r})"
    history = [
        Execution(1, raw[0], magic.format("w = 1\n"), "c0", started=T0 + 1),
        Execution(2, raw[1], magic.format("w = 2\n"), "c1", started=T0 + 2),
    ]
    tracked = Execution(3, raw[2], "r = w * 3", "c2", started=T0 + 3)
    assert not analyze_lineage(history, tracked, cells, saved_at=T0).hidden_state
    # Saved after cell 2 ran, with other code: `w` now comes from code the notebook lacks.
    edited = nb(raw[0], "%%track_run\nw = 20", raw[2])
    report = analyze_lineage(history, tracked, edited, saved_at=T0 + 2.5)
    assert report.stale_names == {"w": 2}
