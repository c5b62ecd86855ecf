"""The ArtifactRepository contract: local folders, S3 (moto) and a server's HTTP artifact proxy
store, list, read, download and delete files alike, and refuse paths that leave the root."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebook_tracker.errors import InvalidParameter, NotFound


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.bin").write_bytes(bytes(range(256)))
    (root / "sub" / "deeper" / "c.txt").write_text("gamma")
    return root


def test_written_bytes_read_back_identically(artifact_repo):
    artifact_repo.write_bytes("notes/hello.txt", "héllo".encode())
    with artifact_repo.open_read("notes/hello.txt") as f:
        assert f.read().decode() == "héllo"
    assert artifact_repo.exists("notes/hello.txt") and artifact_repo.is_dir("notes")
    assert not artifact_repo.is_dir("notes/hello.txt")


def test_a_logged_tree_lists_sorted_with_folders_marked(artifact_repo, tree):
    artifact_repo.log_artifacts(str(tree), "data")
    artifact_repo.log_artifact(str(tree / "a.txt"))
    top = [(f.path, f.is_dir) for f in artifact_repo.list_artifacts()]
    assert top == [("a.txt", False), ("data", True)]
    sub = artifact_repo.list_artifacts("data/sub")
    assert [(f.path, f.is_dir, f.file_size) for f in sub] == [
        ("data/sub/b.bin", False, 256),
        ("data/sub/deeper", True, None),
    ]
    assert artifact_repo.list_artifacts("data/a.txt") == []
    assert artifact_repo.list_artifacts("nothing-here") == []


def test_a_downloaded_folder_is_the_whole_tree(artifact_repo, tree, tmp_path):
    artifact_repo.log_artifacts(str(tree), "data")
    local = Path(artifact_repo.download_artifacts("data", tmp_path / "out"))
    assert local == tmp_path / "out" / "data"
    assert (local / "a.txt").read_text() == "alpha"
    assert (local / "sub" / "b.bin").read_bytes() == bytes(range(256))
    assert (local / "sub" / "deeper" / "c.txt").read_text() == "gamma"
    single = Path(artifact_repo.download_artifacts("data/sub/b.bin", tmp_path / "one"))
    assert single.read_bytes() == bytes(range(256))


def test_missing_artifacts_are_not_found(artifact_repo, tmp_path):
    with pytest.raises(NotFound):
        artifact_repo.download_artifacts("missing.txt", tmp_path)
    with pytest.raises(NotFound):
        artifact_repo.open_read("missing.txt")
    assert not artifact_repo.exists("missing.txt")


def test_delete_removes_a_path_or_everything(artifact_repo, tree):
    artifact_repo.log_artifacts(str(tree))
    artifact_repo.delete_artifacts("sub")
    assert [f.path for f in artifact_repo.list_artifacts()] == ["a.txt"]
    artifact_repo.delete_artifacts()
    assert artifact_repo.list_artifacts() == []
    artifact_repo.delete_artifacts("already-gone")


@pytest.mark.parametrize("bad", ["../escape.txt", "/abs/path", "a/../../b"])
def test_paths_leaving_the_root_are_refused_naming_the_path(artifact_repo, bad, tmp_path):
    for attempt in (
        lambda: artifact_repo.write_bytes(bad, b"x"),
        lambda: artifact_repo.open_read(bad),
        lambda: artifact_repo.list_artifacts(bad),
        lambda: artifact_repo.download_artifacts(bad, tmp_path),
        lambda: artifact_repo.delete_artifacts(bad),
    ):
        with pytest.raises(InvalidParameter) as err:
            attempt()
        assert repr(bad) in err.value.message
    assert artifact_repo.list_artifacts() == []
