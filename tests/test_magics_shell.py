"""`%%track_run` and the line magics in an in-process IPython shell (fast; no kernel)."""

from __future__ import annotations

import json
import subprocess

import pytest
from IPython.core.error import UsageError
from IPython.testing.globalipapp import get_ipython

import notebook_tracker as nt
from notebook_tracker import fluent


@pytest.fixture(scope="module")
def ip():
    shell = get_ipython()
    shell.run_line_magic("load_ext", "notebook_tracker")
    shell.run_cell("import notebook_tracker as nt", store_history=True)
    yield shell
    shell.run_line_magic("unload_ext", "notebook_tracker")


@pytest.fixture
def cwd(tmp_path, monkeypatch, tracking_uri):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    return work


def run(ip, source: str):
    return ip.run_cell(source, store_history=True)


def last_run():
    return nt.get_run(fluent._last_active_run_id)


def artifacts(run_id: str, path: str | None = None) -> list[str]:
    client = nt.TrackingClient()
    out = []
    for info in client.list_artifacts(run_id, path):
        out.extend(artifacts(run_id, info.path) if info.is_dir else [info.path])
    return sorted(out)


def read_artifact(run_id: str, path: str) -> str:
    from notebook_tracker.artifacts import get_artifact_repository

    repo = get_artifact_repository(nt.get_run(run_id).info.artifact_uri)
    with repo.open_read(path) as f:
        return f.read().decode()


def test_cell_runs_as_without_the_magic_and_logs_params_metrics_and_context(ip, cwd, capsys):
    result = run(ip, "%%track_run first --quiet\nlr = 0.1\nacc = 1 - lr\nprint('trained')\nacc")
    assert result.success and ip.user_ns["acc"] == pytest.approx(0.9)
    assert "trained" in capsys.readouterr().out
    run_ = last_run()
    assert run_.info.run_name == "first" and run_.info.status == "FINISHED"
    assert run_.data.params == {"lr": "0.1"}
    assert run_.data.metrics == {"acc": pytest.approx(0.9)}
    tags = run_.data.tags
    assert tags["mlflow.source.type"] == "NOTEBOOK"
    assert tags["notebook_tracker.notebook_path"] == "unknown"
    assert tags["notebook_tracker.execution_count"] == str(result.execution_count)
    assert tags["notebook_tracker.hidden_state"] == "false"
    assert tags["notebook_tracker.python_version"].count(".") == 2
    assert "notebook_tracker" in json.loads(tags["notebook_tracker.packages"])
    files = artifacts(run_.info.run_id)
    for expected in (
        "cell/source.py",
        "outputs/stdout.txt",
        "outputs/result.txt",
        "lineage/replay.py",
        "lineage/report.json",
    ):
        assert expected in files
    assert read_artifact(run_.info.run_id, "cell/source.py").startswith("lr = 0.1")
    assert read_artifact(run_.info.run_id, "outputs/stdout.txt").startswith("trained\n")
    assert "import notebook_tracker as nt" in read_artifact(run_.info.run_id, "lineage/replay.py")


def test_experiment_tags_and_stepped_metrics(ip, cwd):
    run(
        ip,
        "%%track_run -e sweeps -t team=vision --quiet\n"
        "for i in range(5):\n    nt.log_metric('loss', 1 / (i + 1), step=i)\n",
    )
    run_ = last_run()
    assert nt.get_experiment(run_.info.experiment_id).name == "sweeps"
    assert run_.data.tags["team"] == "vision"
    history = nt.get_metric_history(run_.info.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]


def test_values_the_cell_logged_itself_win_over_automatic_ones(ip, cwd):
    result = run(
        ip,
        "%%track_run --quiet\nlr = 0.5\nnt.log_param('lr', 'custom')\n"
        "acc = abs(-0.25)\nnt.log_metric('acc', 0.75, step=3)\n",
    )
    assert result.success
    run_ = last_run()
    assert run_.data.params["lr"] == "custom"
    assert [(m.value, m.step) for m in nt.get_metric_history(run_.info.run_id, "acc")] == [
        (0.75, 3)
    ]


def test_exception_marks_failed_keeps_earlier_metrics_and_fails_the_cell(ip, cwd, capsys):
    result = run(
        ip,
        "%%track_run --quiet\nfor i in range(3):\n    nt.log_metric('m', i, step=i)\n"
        "raise ValueError('bad data')\n",
    )
    assert not result.success and isinstance(result.error_in_exec, ValueError)
    shown = capsys.readouterr()
    assert (shown.out + shown.err).count("ValueError: bad data") == 1  # one traceback, not two
    run_ = last_run()
    assert run_.info.status == "FAILED"
    assert run_.data.tags["notebook_tracker.error"] == "ValueError: bad data"
    assert len(nt.get_metric_history(run_.info.run_id, "m")) == 3
    traceback = read_artifact(run_.info.run_id, "outputs/traceback.txt")
    assert "ValueError: bad data" in traceback and "interactiveshell" not in traceback
    assert fluent.active_run() is None


def test_magic_called_from_code_re_raises(ip, cwd):
    with pytest.raises(ZeroDivisionError):
        ip.run_cell_magic("track_run", "--quiet", "1 / 0")
    assert last_run().info.status == "FAILED"


def test_interrupt_marks_killed(ip, cwd):
    result = run(ip, "%%track_run --quiet\nraise KeyboardInterrupt\n")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert last_run().info.status == "KILLED"


def test_runs_inside_an_active_run_are_children(ip, cwd):
    run(ip, "parent = nt.start_run(run_name='sweep')")
    try:
        run(ip, "%%track_run a --quiet\nx = 1")
        child_a = last_run()
        run(ip, "%%track_run b --nested --quiet\nx = 2")
        child_b = last_run()
    finally:
        run(ip, "nt.end_run()")
    parent_id = ip.user_ns["parent"].info.run_id
    assert child_a.parent_run_id == parent_id and child_b.parent_run_id == parent_id
    assert nt.get_run(parent_id).info.status == "FINISHED"


def test_nested_flag_without_an_active_run_starts_a_top_level_run(ip, cwd):
    run(ip, "%%track_run --nested --quiet\nx = 3")
    assert last_run().parent_run_id is None


def test_runs_the_cell_left_open_end_with_it(ip, cwd):
    run(ip, "%%track_run outer --quiet\ninner = nt.start_run(nested=True)")
    assert fluent.active_run() is None
    assert nt.get_run(ip.user_ns["inner"].info.run_id).info.status == "FINISHED"


def test_files_written_by_the_cell_and_artifact_globs_are_logged(ip, cwd):
    (cwd / "data").mkdir()
    (cwd / "data" / "old.csv").write_text("a\n")
    (cwd / "notes.md").write_text("# notes\n")
    run(
        ip,
        "%%track_run --quiet --artifacts notes.md\n"
        "open('preds.csv', 'w').write('1,2\\n')\nopen('data/new.csv', 'w').write('x\\n')\n",
    )
    files = artifacts(last_run().info.run_id)
    assert "files/preds.csv" in files and "files/data/new.csv" in files
    assert "notes.md" in files
    assert not any("old.csv" in f or "tracker.db" in f for f in files)


def test_no_autolog_logs_only_what_was_asked(ip, cwd):
    run(ip, "%%track_run --no-autolog -p lr --quiet\nlr = 0.3\nacc = lr * 2\nopen('f.txt','w')")
    run_ = last_run()
    assert run_.data.params == {"lr": "0.3"} and run_.data.metrics == {}
    assert not any(f.startswith("files/") for f in artifacts(run_.info.run_id))


def test_matplotlib_figures_are_logged_as_png(ip, cwd):
    run(ip, "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt")
    run(ip, "%%track_run --quiet\nfig, ax = plt.subplots()\nax.plot([1, 3, 2])")
    files = artifacts(last_run().info.run_id)
    assert [f for f in files if f.startswith("figures/")] == [
        f"figures/figure-{ip.user_ns['fig'].number}.png"
    ]
    run(ip, "plt.close('all')")


def test_git_context_is_tagged_and_the_diff_stored(ip, cwd):
    def git(*args):
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)

    git("init", "-q", "-b", "trunk")
    (cwd / "model.py").write_text("v = 1\n")
    git("add", "model.py")
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "c")
    (cwd / "model.py").write_text("v = 2\n")
    run(ip, "%%track_run --quiet\npass")
    run_ = last_run()
    assert run_.data.tags["mlflow.source.git.branch"] == "trunk"
    assert len(run_.data.tags["mlflow.source.git.commit"]) == 40
    assert run_.data.tags["notebook_tracker.git.dirty"] == "true"
    assert "+v = 2" in read_artifact(run_.info.run_id, "git/diff.patch")


def test_notebook_path_snapshot_and_hidden_state_from_the_saved_notebook(ip, cwd, monkeypatch):
    import nbformat

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("threshold = 0.9  # edited since it ran"),
            nbformat.v4.new_code_cell("%%track_run --quiet\nhits = threshold * 2"),
        ]
    )
    monkeypatch.setenv("JPY_SESSION_NAME", str(cwd / "exp.ipynb"))
    run(ip, "threshold = 0.5")
    # Saved after the run, with other code in that cell: it was edited after it ran.
    nbformat.write(nb, cwd / "exp.ipynb")
    run(ip, "%%track_run --quiet\nhits = threshold * 2")
    run_ = last_run()
    tags = run_.data.tags
    assert tags["notebook_tracker.notebook_path"].endswith("exp.ipynb")
    assert tags["mlflow.source.name"] == tags["notebook_tracker.notebook_path"]
    assert tags["notebook_tracker.hidden_state"] == "true"
    report = json.loads(read_artifact(run_.info.run_id, "lineage/report.json"))
    assert "threshold" in report["stale_names"]
    snapshot = json.loads(read_artifact(run_.info.run_id, "notebook/snapshot.ipynb"))
    assert "".join(snapshot["cells"][1]["source"]).startswith("%%track_run")


def test_run_experiment_is_an_alias(ip, cwd):
    run(ip, "%%run_experiment aliased --quiet\nk = 2")
    assert last_run().info.run_name == "aliased"


def test_bad_magic_line_is_a_usage_error(ip, cwd):
    with pytest.raises(UsageError, match="KEY=VALUE"):
        ip.run_cell_magic("track_run", "-t oops", "x = 1")
    assert fluent.active_run() is None


def test_runs_magic_lists_runs_newest_first_with_a_filter(ip, cwd):
    for lr in (0.1, 0.2, 0.3):
        run(ip, f"%%track_run lr{lr} --quiet\nlr = {lr}\nscore = lr * 10")
    frame = ip.run_line_magic("runs", "")
    assert list(frame["tags.mlflow.runName"][:3]) == ["lr0.3", "lr0.2", "lr0.1"]
    assert frame.columns[0] == "run_id"
    picked = ip.run_line_magic("runs", "metrics.score > 1.5")
    assert sorted(picked["params.lr"]) == ["0.2", "0.3"]
    with pytest.raises(UsageError):
        ip.run_line_magic("runs", "metrics.score >>> 1")


def test_tracker_uri_shows_and_sets_the_store(ip, cwd, tmp_path, capsys):
    assert ip.run_line_magic("tracker_uri", "") == nt.get_tracking_uri()
    ip.run_line_magic("tracker_uri", str(tmp_path / "other"))
    assert nt.get_tracking_uri() == f"sqlite:///{tmp_path / 'other' / 'tracker.db'}"
    assert "Tracking to" in capsys.readouterr().out


def test_unload_removes_the_magics_and_hooks(ip, cwd):
    shell = ip
    shell.run_line_magic("unload_ext", "notebook_tracker")
    try:
        assert "track_run" not in shell.magics_manager.magics["cell"]
        assert "runs" not in shell.magics_manager.magics["line"]
        hooks = shell.events.callbacks["pre_run_cell"]
        owners = {type(getattr(h, "__self__", None)).__name__ for h in hooks}
        assert "ExecutionRecorder" not in owners
    finally:
        shell.run_line_magic("load_ext", "notebook_tracker")
    assert "track_run" in shell.magics_manager.magics["cell"]


def test_tracker_errors_of_the_cell_keep_their_type(ip, cwd):
    from notebook_tracker.errors import InvalidParameter

    with pytest.raises(InvalidParameter):
        ip.run_cell_magic("track_run", "--quiet", "nt.log_metric('bad key!', 1.0)")
    assert last_run().info.status == "FAILED"


def test_a_run_that_cannot_start_is_a_usage_error_and_the_cell_does_not_run(ip, cwd):
    ip.user_ns.pop("never", None)
    with pytest.raises(UsageError, match="could not start a run"):
        ip.run_cell_magic("track_run", "--quiet -e " + "x" * 600, "never = 1")
    assert "never" not in ip.user_ns and fluent.active_run() is None


def test_cell_ids_sent_by_the_front_end_tag_the_run_and_find_edited_cells(ip, cwd, monkeypatch):
    import nbformat

    first = nbformat.v4.new_code_cell("a = 2  # edited after it ran")
    first.id = "cell-a"
    tracked = nbformat.v4.new_code_cell("%%track_run --quiet\nb = a + 1")
    tracked.id = "cell-b"
    monkeypatch.setenv("JPY_SESSION_NAME", str(cwd / "ids.ipynb"))
    ip.run_cell("a = 1", store_history=True, cell_id="cell-a")
    nbformat.write(nbformat.v4.new_notebook(cells=[first, tracked]), cwd / "ids.ipynb")
    ip.run_cell("%%track_run --quiet\nb = a + 1", store_history=True, cell_id="cell-b")
    run_ = last_run()
    assert run_.data.tags["notebook_tracker.cell_id"] == "cell-b"
    report = json.loads(read_artifact(run_.info.run_id, "lineage/report.json"))
    assert report["edited_after_run"][0]["notebook_index"] == 0
    assert report["stale_names"] == {"a": report["edited_after_run"][0]["count"]}
    ip.run_cell("a = 2  # edited after it ran", store_history=True, cell_id="cell-a")
    ip.run_cell("%%track_run --quiet\nb = a + 1", store_history=True, cell_id="cell-b")
    assert last_run().data.tags["notebook_tracker.hidden_state"] == "false"
