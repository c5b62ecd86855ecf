"""What a tracked cell captures around it: files, figures, git state, the notebook's path."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from notebook_tracker.magics import files, git_info, notebook_path
from notebook_tracker.magics.figures import FigureWatch
from notebook_tracker.magics.outputs import output_files
from notebook_tracker.magics.runner import CellOutcome


def _touch(path: Path, text: str = "x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_created_and_modified_files_are_found_and_old_ones_ignored(tmp_path):
    _touch(tmp_path / "old.txt")
    _touch(tmp_path / "edit.csv", "a")
    before = files.snapshot(tmp_path)
    time.sleep(0.01)
    _touch(tmp_path / "new" / "model.bin")
    _touch(tmp_path / "edit.csv", "a,b")
    found = files.changes(before, files.snapshot(tmp_path))
    assert found.changed == ["edit.csv", os.path.join("new", "model.bin")]


def test_store_hidden_folders_and_pycache_are_never_scanned(tmp_path):
    before = files.snapshot(tmp_path, exclude=(str(tmp_path / "store"),))
    for rel in (".notebook_tracker/a.db", ".git/x", "__pycache__/m.pyc", "store/tracker.db"):
        _touch(tmp_path / rel)
    _touch(tmp_path / ".hidden_file")
    after = files.snapshot(tmp_path, exclude=(str(tmp_path / "store"),))
    assert files.changes(before, after).changed == []


def test_files_over_the_size_cap_are_reported_not_logged(tmp_path):
    before = files.snapshot(tmp_path)
    (tmp_path / "huge.bin").write_bytes(b"0" * 2048)
    found = files.changes(before, files.snapshot(tmp_path), max_bytes=1024)
    assert found.changed == [] and found.too_large == ["huge.bin"]


def test_scan_gives_up_past_the_entry_limit(tmp_path):
    for i in range(12):
        _touch(tmp_path / f"f{i}.txt")
    snap = files.snapshot(tmp_path, max_entries=10)
    assert not snap.complete
    reason = files.changes(snap, snap).skipped_reason
    assert reason and "--artifacts" in reason


def test_deep_folders_are_not_entered(tmp_path):
    before = files.snapshot(tmp_path, max_depth=1)
    _touch(tmp_path / "a" / "b" / "deep.txt")
    _touch(tmp_path / "a" / "shallow.txt")
    after = files.snapshot(tmp_path, max_depth=1)
    assert files.changes(before, after).changed == [os.path.join("a", "shallow.txt")]


def test_artifact_globs_keep_relative_paths_and_never_climb_out(tmp_path):
    _touch(tmp_path / "out" / "a.csv")
    _touch(tmp_path / "out" / "sub" / "b.csv")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    _touch(outside)
    found = dict(files.expand_globs(["out/**/*.csv", str(outside)], tmp_path))
    assert sorted(found.values()) == ["out/a.csv", "out/sub/b.csv", outside.name]


# -- figures ---------------------------------------------------------------------------------
@pytest.fixture
def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    yield plt
    plt.close("all")


def test_new_and_changed_figures_are_captured_untouched_ones_not(pyplot):
    untouched = pyplot.figure()
    untouched.add_subplot().plot([1, 2])
    changed = pyplot.figure()
    changed.add_subplot().plot([1, 2])
    watch = FigureWatch()
    changed.axes[0].plot([2, 1])
    new = pyplot.figure()
    new.add_subplot().bar([1], [2])
    captured = watch.finish()
    assert set(captured) == {changed.number, new.number}
    assert all(png.startswith(b"\x89PNG") for png in captured.values())


def test_figures_closed_during_the_cell_are_rendered_before_they_go(pyplot):
    from matplotlib._pylab_helpers import Gcf

    originals = (Gcf.__dict__["destroy"], Gcf.__dict__["destroy_all"])
    watch = FigureWatch()
    fig = pyplot.figure()
    fig.add_subplot().plot([0, 1])
    num = fig.number
    pyplot.close("all")
    other = pyplot.figure()
    other.add_subplot().plot([1, 0])
    pyplot.close(other)
    captured = watch.finish()
    assert set(captured) == {num, other.number}
    assert (Gcf.__dict__["destroy"], Gcf.__dict__["destroy_all"]) == originals  # restored


def test_no_matplotlib_no_capture(monkeypatch):
    import sys

    monkeypatch.delitem(sys.modules, "matplotlib.pyplot", raising=False)
    assert FigureWatch().finish() == {}


# -- outputs ---------------------------------------------------------------------------------
def test_outputs_become_files():
    outcome = CellOutcome(
        stdout="hi\n",
        displays=[
            {"text/plain": "<Figure>", "image/png": "iVBORw0KGgo="},
            {"text/plain": "df", "text/html": "<table></table>"},
            {"text/plain": "just text"},
        ],
        result={"text/plain": "42"},
        traceback="Traceback...",
    )
    out = output_files(outcome)
    assert out["outputs/stdout.txt"] == b"hi\n"
    assert out["outputs/display-001.png"].startswith(b"\x89PNG")
    assert out["outputs/display-002.html"] == b"<table></table>"
    assert out["outputs/display-003.txt"] == b"just text"
    assert out["outputs/result.txt"] == b"42"
    assert out["outputs/traceback.txt"] == b"Traceback..."
    assert "outputs/stderr.txt" not in out


# -- git -------------------------------------------------------------------------------------
def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_git_state_reads_commit_branch_dirty_and_diff(tmp_path):
    _git(tmp_path, "init", "-q", "-b", "main")
    _touch(tmp_path / "train.py", "lr = 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "one")
    (tmp_path / "sub").mkdir()
    clean = git_info.git_state(tmp_path / "sub")
    assert clean.commit == _git(tmp_path, "rev-parse", "HEAD")
    assert clean.branch == "main" and not clean.dirty and clean.diff == b""
    _touch(tmp_path / "train.py", "lr = 2\n")
    dirty = git_info.git_state(tmp_path)
    assert dirty.dirty and b"+lr = 2" in dirty.diff


def test_outside_a_repository_there_is_no_git_state(tmp_path):
    assert git_info.git_state(tmp_path) is None


def test_parse_status_of_detached_and_initial_heads():
    assert git_info.parse_status("# branch.oid (initial)\n# branch.head main\n") == (
        None,
        "main",
        False,
    )
    out = "# branch.oid abc\n# branch.head (detached)\n1 .M N... 100644 100644 100644 a b f.py\n"
    assert git_info.parse_status(out) == ("abc", None, True)


# -- notebook path ---------------------------------------------------------------------------
def test_vscode_variable_wins(tmp_path):
    nb = tmp_path / "a.ipynb"
    nb.write_text("{}")
    loc = notebook_path.locate({"__vsc_ipynb_file__": str(nb)}, {"JPY_SESSION_NAME": "x"})
    assert (loc.path, loc.file, loc.source) == (str(nb), nb, "vscode")


def test_session_variable_relative_to_server_root(tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    nb = tmp_path / "work" / "exp.ipynb"
    nb.write_text("{}")
    monkeypatch.chdir(tmp_path / "work")
    loc = notebook_path.from_session_env(str(nb), [{"root_dir": str(tmp_path)}], Path.cwd())
    assert (loc.path, loc.file) == ("work/exp.ipynb", nb)
    loc = notebook_path.from_session_env("work/exp.ipynb", [], Path.cwd())
    assert (loc.path, loc.file) == ("work/exp.ipynb", Path.cwd() / "exp.ipynb")


def test_unknown_without_any_source(monkeypatch):
    monkeypatch.setattr(notebook_path, "kernel_id", lambda: None)
    assert notebook_path.locate({}, {}).path == "unknown"


class _Sessions(BaseHTTPRequestHandler):
    payload: list = []
    seen_auth: list = []

    def do_GET(self):  # noqa: N802
        self.seen_auth.append(self.headers.get("Authorization"))
        body = json.dumps(self.payload).encode() if self.path == "/api/sessions" else b"[]"
        self.send_response(200 if self.path == "/api/sessions" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_server_sessions_api_maps_this_kernel_to_its_notebook(tmp_path):
    (tmp_path / "nb.ipynb").write_text("{}")
    _Sessions.payload = [
        {"path": "other.ipynb", "kernel": {"id": "k-other"}},
        {"path": "nb.ipynb", "kernel": {"id": "k-me"}},
    ]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sessions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        info = {
            "url": f"http://127.0.0.1:{server.server_port}/",
            "token": "secret",
            "root_dir": str(tmp_path),
        }
        loc = notebook_path.from_server_api("k-me", [info])
        assert (loc.path, loc.file, loc.source) == ("nb.ipynb", tmp_path / "nb.ipynb", "server-api")
        assert _Sessions.seen_auth[-1] == "token secret"
        assert notebook_path.from_server_api("k-absent", [info]) is None
    finally:
        server.shutdown()
        server.server_close()


def test_server_api_is_only_asked_on_loopback():
    asked = []
    info = {"url": "http://example.com:8888/", "root_dir": "/"}
    assert notebook_path.fetch_sessions(info) == []
    assert notebook_path.from_server_api("k", [info], fetch=lambda i: asked.append(i) or []) is None


def test_notebook_snapshot_drops_outputs_and_is_parsed_once_per_save(tmp_path):
    import nbformat

    from notebook_tracker.magics import snapshot

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a = 1")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="x" * 10_000)]
    nb.metadata["widgets"] = {"state": "big"}
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    first = snapshot.read_snapshot(path)
    assert [c.source for c in first.cells] == ["a = 1"]
    stored = json.loads(first.stripped)
    assert stored["cells"][0]["outputs"] == [] and "widgets" not in stored["metadata"]
    assert len(first.stripped) < 2000
    assert snapshot.read_snapshot(path) is first  # unchanged file: no new parse
    time.sleep(0.01)
    nb.cells[0].source = "a = 2"
    nbformat.write(nb, path)
    assert snapshot.read_snapshot(path).cells[0].source == "a = 2"


def test_card_summary_says_what_was_logged_besides_params_and_metrics():
    from notebook_tracker.magics.collect import LogPlan, summary

    plan = LogPlan(
        blobs={
            "cell/source.py": b"",
            "figures/figure-1.png": b"",
            "figures/figure-2.png": b"",
            "outputs/stdout.txt": b"",
            "outputs/display-001.html": b"",
            "git/diff.patch": b"",
        },
        local_files=[("/w/a.csv", "files")],
    )
    assert summary(plan) == ["2 figures", "1 output file", "stdout", "1 file", "git diff"]
