"""The local artifact store: files in, files out, and no path ever leaving the root."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from notebook_tracker.artifacts import get_artifact_repository
from notebook_tracker.artifacts.local import LocalArtifactRepository
from notebook_tracker.artifacts.paths import safe_relpath
from notebook_tracker.entities import FileInfo
from notebook_tracker.errors import InvalidParameter, NotFound

MB = 1024 * 1024


@pytest.fixture
def repo(tmp_path: Path) -> LocalArtifactRepository:
    r = get_artifact_repository(str(tmp_path / "root"))
    assert isinstance(r, LocalArtifactRepository)
    return r


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A local directory with nested files, as a user would log it."""
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.txt").write_text("bravo")
    (src / "sub" / "deeper" / "c.bin").write_bytes(b"\x00\x01\x02")
    return src


def _sha256_of_stream(fileobj, chunk: int = MB) -> str:
    digest = hashlib.sha256()
    while block := fileobj.read(chunk):
        digest.update(block)
    return digest.hexdigest()


class _ChunkSource(io.RawIOBase):
    """A non-seekable stream of `total` pseudo-random bytes produced chunk by chunk."""

    def __init__(self, total: int) -> None:
        self.remaining = total
        self.counter = 0
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.remaining <= 0:
            return 0
        n = min(len(buffer), self.remaining, MB)
        block = (hashlib.sha256(str(self.counter).encode()).digest() * (n // 32 + 1))[:n]
        self.counter += 1
        self.remaining -= n
        self.digest.update(block)
        buffer[:n] = block
        return n


# --- choosing a repository -------------------------------------------------------------


def test_plain_paths_and_file_uris_give_a_local_repository(tmp_path: Path) -> None:
    plain = get_artifact_repository(str(tmp_path / "x"))
    uri = get_artifact_repository((tmp_path / "x").as_uri())
    assert isinstance(plain, LocalArtifactRepository)
    assert isinstance(uri, LocalArtifactRepository)
    assert plain.root == uri.root == str(tmp_path / "x")
    assert uri.root_uri == (tmp_path / "x").as_uri()


def test_unknown_scheme_is_refused_naming_it_and_the_supported_ones() -> None:
    with pytest.raises(InvalidParameter) as err:
        get_artifact_repository("gs://bucket/path")
    assert "'gs'" in err.value.message
    assert "s3://" in err.value.message and "file://" in err.value.message


def test_file_uri_with_a_remote_host_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="not local"):
        get_artifact_repository("file://otherhost/data")


# --- round trips -----------------------------------------------------------------------


def test_logged_file_reads_back_identically(repo, tmp_path: Path) -> None:
    f = tmp_path / "model.pkl"
    f.write_bytes(b"weights")
    repo.log_artifact(f)
    repo.log_artifact(str(f), artifact_path="nested/dir")
    with repo.open_read("model.pkl") as fh:
        assert fh.read() == b"weights"
    with repo.open_read("nested/dir/model.pkl") as fh:
        assert fh.read() == b"weights"


def test_write_bytes_creates_directories_and_replaces_content(repo) -> None:
    repo.write_bytes("notes/today.txt", b"first")
    repo.write_bytes("notes/today.txt", b"second")
    with repo.open_read("notes/today.txt") as fh:
        assert fh.read() == b"second"
    assert repo.is_dir("notes") and not repo.is_dir("notes/today.txt")
    assert repo.exists("notes/today.txt") and not repo.exists("notes/tomorrow.txt")


def test_log_artifacts_keeps_the_directory_layout(repo, tree: Path) -> None:
    repo.log_artifacts(tree, artifact_path="data")
    with repo.open_read("data/sub/deeper/c.bin") as fh:
        assert fh.read() == b"\x00\x01\x02"
    with repo.open_read("data/a.txt") as fh:
        assert fh.read() == b"alpha"


def test_listing_gives_root_relative_sorted_paths_with_dirs_marked(repo, tree: Path) -> None:
    repo.log_artifacts(tree)
    assert repo.list_artifacts() == [
        FileInfo("a.txt", False, 5),
        FileInfo("sub", True, None),
    ]
    assert repo.list_artifacts("sub") == [
        FileInfo("sub/b.txt", False, 5),
        FileInfo("sub/deeper", True, None),
    ]
    assert repo.list_artifacts("sub/") == repo.list_artifacts("./sub")


def test_listing_a_file_or_a_missing_directory_is_empty(repo) -> None:
    repo.write_bytes("f.txt", b"x")
    assert repo.list_artifacts("f.txt") == []
    assert repo.list_artifacts("nowhere") == []
    assert get_artifact_repository(repo.root + "-never-written").list_artifacts() == []


def test_downloading_a_directory_copies_the_whole_tree(repo, tree: Path, tmp_path: Path) -> None:
    repo.log_artifacts(tree, "data")
    dst = tmp_path / "dst"
    local = repo.download_artifacts("data/sub", dst)
    assert Path(local) == dst / "data" / "sub"
    assert (dst / "data" / "sub" / "b.txt").read_text() == "bravo"
    assert (dst / "data" / "sub" / "deeper" / "c.bin").read_bytes() == b"\x00\x01\x02"
    assert not (dst / "data" / "a.txt").exists()


def test_downloading_a_file_returns_its_local_path(repo, tmp_path: Path) -> None:
    repo.write_bytes("a/b.txt", b"hello")
    local = repo.download_artifacts("a/b.txt", tmp_path / "dst")
    assert Path(local).read_bytes() == b"hello"
    assert Path(local) == tmp_path / "dst" / "a" / "b.txt"


def test_downloading_the_root_copies_everything(repo, tree: Path, tmp_path: Path) -> None:
    repo.log_artifacts(tree)
    local = repo.download_artifacts(None, tmp_path / "all")
    assert sorted(str(p.relative_to(local)) for p in Path(local).rglob("*") if p.is_file()) == [
        "a.txt",
        os.path.join("sub", "b.txt"),
        os.path.join("sub", "deeper", "c.bin"),
    ]


def test_missing_artifacts_raise_not_found(repo, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        repo.open_read("missing.txt")
    with pytest.raises(NotFound):
        repo.download_artifacts("missing.txt", tmp_path)


def test_delete_removes_a_path_or_everything(repo, tree: Path) -> None:
    repo.log_artifacts(tree)
    repo.delete_artifacts("sub")
    assert [f.path for f in repo.list_artifacts()] == ["a.txt"]
    repo.delete_artifacts("a.txt")
    repo.delete_artifacts("already-gone")
    repo.write_bytes("x/y", b"1")
    repo.delete_artifacts()
    assert repo.list_artifacts() == []
    assert not os.path.exists(repo.root)


def test_writing_over_a_directory_is_refused_clearly(repo) -> None:
    repo.write_bytes("d/f.txt", b"1")
    with pytest.raises(InvalidParameter, match="directory of that name exists"):
        repo.write_bytes("d", b"2")
    with pytest.raises(InvalidParameter, match="file is in the way"):
        repo.write_bytes("d/f.txt/g.txt", b"3")


def test_a_50mb_file_streams_in_and_out_unchanged(repo, tmp_path: Path) -> None:
    src = _ChunkSource(50 * MB)
    repo.write_stream("big/blob.bin", src)
    assert repo.list_artifacts("big") == [FileInfo("big/blob.bin", False, 50 * MB)]
    with repo.open_read("big/blob.bin") as fh:
        assert _sha256_of_stream(fh) == src.digest.hexdigest()
    local = repo.download_artifacts("big/blob.bin", tmp_path / "dst")
    with open(local, "rb") as fh:
        assert _sha256_of_stream(fh) == src.digest.hexdigest()


def test_an_interrupted_stream_leaves_no_partial_file(repo) -> None:
    class Broken(io.RawIOBase):
        sent = False

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            if self.sent:
                raise ConnectionResetError("client went away")
            self.sent = True
            buffer[:4] = b"half"
            return 4

    repo.write_bytes("keep.txt", b"old")
    with pytest.raises(ConnectionResetError):
        repo.write_stream("keep.txt", Broken())
    with repo.open_read("keep.txt") as fh:
        assert fh.read() == b"old"
    assert [f.path for f in repo.list_artifacts()] == ["keep.txt"]


# --- path safety -----------------------------------------------------------------------

ESCAPES = ["../x", "a/../../x", "/etc/passwd", "..", "sub/../..", "a\\..\\..\\x", "C:x", "x\x00y"]


@pytest.mark.parametrize("bad", ESCAPES)
def test_every_escape_attempt_is_refused_with_a_message_naming_the_path(repo, bad: str) -> None:
    for attempt in (
        lambda: repo.write_bytes(bad, b"x"),
        lambda: repo.open_read(bad),
        lambda: repo.list_artifacts(bad),
        lambda: repo.download_artifacts(bad, repo.root + "-dst"),
        lambda: repo.delete_artifacts(bad),
        lambda: repo.exists(bad),
    ):
        with pytest.raises(InvalidParameter) as err:
            attempt()
        assert repr(bad) in err.value.message
        assert "relative" in err.value.message
    assert not os.path.exists(os.path.join(os.path.dirname(repo.root), "x"))


@pytest.mark.parametrize("bad", ["..", "../escape", "/abs"])
def test_artifact_path_argument_of_log_artifact_cannot_escape(repo, tmp_path: Path, bad) -> None:
    f = tmp_path / "f.txt"
    f.write_text("x")
    with pytest.raises(InvalidParameter, match="Invalid artifact path"):
        repo.log_artifact(f, artifact_path=bad)
    with pytest.raises(InvalidParameter, match="Invalid artifact path"):
        repo.log_artifacts(tmp_path, artifact_path=bad)


def test_harmless_paths_are_normalised() -> None:
    assert safe_relpath("a//b/./c/") == "a/b/c"
    assert safe_relpath("a/../b") == "b"
    assert safe_relpath(".") == safe_relpath("") == safe_relpath(None) == ""


def test_reading_through_a_symlink_to_outside_is_refused(repo, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("s3cr3t")
    repo.write_bytes("ok.txt", b"fine")
    os.symlink(secret, os.path.join(repo.root, "leak"))
    os.symlink(secret / "key", os.path.join(repo.root, "leak.txt"))
    for bad in ("leak/key", "leak.txt"):
        with pytest.raises(InvalidParameter, match="symlink that points outside"):
            repo.open_read(bad)
        with pytest.raises(InvalidParameter, match="symlink that points outside"):
            repo.download_artifacts(bad, tmp_path / "dst")
    with pytest.raises(InvalidParameter, match="symlink that points outside"):
        repo.list_artifacts("leak")
    with pytest.raises(InvalidParameter, match="symlink that points outside"):
        repo.write_bytes("leak/planted", b"x")
    assert not (secret / "planted").exists()
    # The link is not part of the repository: listing and downloading the root skip it.
    assert [f.path for f in repo.list_artifacts()] == ["ok.txt"]
    local = repo.download_artifacts(None, tmp_path / "all")
    assert sorted(os.listdir(local)) == ["ok.txt"]
    # Deleting the link removes the link, never what it points to.
    repo.delete_artifacts("leak")
    assert (secret / "key").read_text() == "s3cr3t"


def test_logging_a_directory_with_a_symlink_to_outside_is_refused(repo, tree, tmp_path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("private")
    os.symlink(outside, tree / "sub" / "link.txt")
    with pytest.raises(InvalidParameter) as err:
        repo.log_artifacts(tree)
    assert "sub/link.txt" in err.value.message and "outside" in err.value.message
    assert repo.list_artifacts() == []  # refused before anything was copied


def test_symlinks_inside_the_logged_directory_are_followed(repo, tree: Path) -> None:
    os.symlink(tree / "a.txt", tree / "sub" / "alias.txt")
    repo.log_artifacts(tree)
    with repo.open_read("sub/alias.txt") as fh:
        assert fh.read() == b"alpha"


def test_a_symlink_loop_in_a_logged_directory_is_refused(repo, tree: Path) -> None:
    os.symlink(tree, tree / "sub" / "loop")
    with pytest.raises(InvalidParameter, match="symlink loop"):
        repo.log_artifacts(tree)
