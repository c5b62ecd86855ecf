"""The S3 artifact store against moto's standalone server on loopback."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from notebook_tracker.artifacts import get_artifact_repository
from notebook_tracker.artifacts.s3 import S3ArtifactRepository, endpoint_url_from_env
from notebook_tracker.entities import FileInfo
from notebook_tracker.errors import InvalidParameter, NotFound

pytestmark = pytest.mark.s3

MB = 1024 * 1024


@pytest.fixture
def repo(s3_bucket: str) -> S3ArtifactRepository:
    r = get_artifact_repository(f"s3://{s3_bucket}/exp/1/run/artifacts")
    assert isinstance(r, S3ArtifactRepository)
    return r


@pytest.fixture
def s3(s3_endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.txt").write_text("bravo")
    (src / "sub" / "deeper" / "c.bin").write_bytes(b"\x00\x01\x02")
    return src


def _sha256_of_stream(fileobj) -> str:
    digest = hashlib.sha256()
    while block := fileobj.read(MB):
        digest.update(block)
    return digest.hexdigest()


def _write_big_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for i in range(size // MB):
            block = hashlib.sha256(str(i).encode()).digest() * (MB // 32)
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def test_endpoint_comes_from_the_project_variable_then_the_fallbacks(monkeypatch) -> None:
    for name in ("NOTEBOOK_TRACKER_S3_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    assert endpoint_url_from_env() is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    assert endpoint_url_from_env() == "http://127.0.0.1:1"
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", "http://127.0.0.1:2")
    assert endpoint_url_from_env() == "http://127.0.0.1:2"
    monkeypatch.setenv("NOTEBOOK_TRACKER_S3_ENDPOINT_URL", "http://127.0.0.1:3")
    assert endpoint_url_from_env() == "http://127.0.0.1:3"


def test_s3_uri_without_a_bucket_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="names no bucket"):
        get_artifact_repository("s3:///prefix")


def test_logged_files_read_back_identically(repo, tree: Path, s3, s3_bucket) -> None:
    repo.log_artifact(tree / "a.txt")
    repo.log_artifact(tree / "a.txt", artifact_path="copies")
    repo.write_bytes("notes/n.txt", b"note")
    with repo.open_read("a.txt") as fh:
        assert fh.read() == b"alpha"
    with repo.open_read("copies/a.txt") as fh:
        assert fh.read() == b"alpha"
    with repo.open_read("notes/n.txt") as fh:
        assert fh.read() == b"note"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert keys == [
        "exp/1/run/artifacts/a.txt",
        "exp/1/run/artifacts/copies/a.txt",
        "exp/1/run/artifacts/notes/n.txt",
    ]


def test_listing_gives_root_relative_sorted_paths_with_dirs_marked(repo, tree: Path) -> None:
    repo.log_artifacts(tree)
    assert repo.list_artifacts() == [FileInfo("a.txt", False, 5), FileInfo("sub", True, None)]
    assert repo.list_artifacts("sub") == [
        FileInfo("sub/b.txt", False, 5),
        FileInfo("sub/deeper", True, None),
    ]
    assert repo.list_artifacts("a.txt") == []
    assert repo.list_artifacts("nowhere") == []
    assert repo.is_dir("sub") and not repo.is_dir("a.txt")
    assert repo.exists("sub/deeper/c.bin") and not repo.exists("sub/deeper/d.bin")


def test_listing_does_not_confuse_siblings_sharing_a_name_prefix(repo) -> None:
    repo.write_bytes("run/x.txt", b"1")
    repo.write_bytes("run2/y.txt", b"2")
    assert [f.path for f in repo.list_artifacts("run")] == ["run/x.txt"]
    repo.delete_artifacts("run")
    assert [f.path for f in repo.list_artifacts()] == ["run2"]


def test_listing_pages_through_more_than_a_thousand_objects(repo, s3, s3_bucket) -> None:
    for i in range(1005):
        s3.put_object(Bucket=s3_bucket, Key=f"exp/1/run/artifacts/many/f{i:04d}", Body=b"")
    listed = repo.list_artifacts("many")
    assert len(listed) == 1005
    assert listed[0].path == "many/f0000" and listed[-1].path == "many/f1004"
    repo.delete_artifacts()
    assert repo.list_artifacts() == []


def test_downloading_a_directory_copies_the_whole_tree(repo, tree: Path, tmp_path: Path) -> None:
    repo.log_artifacts(tree, artifact_path="data")
    dst = tmp_path / "dst"
    local = repo.download_artifacts("data/sub", dst)
    assert Path(local) == dst / "data" / "sub"
    assert (dst / "data" / "sub" / "b.txt").read_text() == "bravo"
    assert (dst / "data" / "sub" / "deeper" / "c.bin").read_bytes() == b"\x00\x01\x02"
    assert not (dst / "data" / "a.txt").exists()
    single = repo.download_artifacts("data/a.txt", tmp_path / "one")
    assert Path(single).read_text() == "alpha"


def test_missing_artifacts_raise_not_found(repo, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        repo.open_read("missing.txt")
    with pytest.raises(NotFound):
        repo.download_artifacts("missing.txt", tmp_path)


def test_a_missing_bucket_is_reported_as_such(s3_endpoint: str) -> None:
    repo = get_artifact_repository("s3://nbt-no-such-bucket/x")
    with pytest.raises(NotFound, match="bucket 'nbt-no-such-bucket'"):
        repo.list_artifacts()


def test_delete_removes_a_path_or_everything(repo, tree: Path) -> None:
    repo.log_artifacts(tree)
    repo.delete_artifacts("sub")
    assert [f.path for f in repo.list_artifacts()] == ["a.txt"]
    repo.delete_artifacts()
    assert repo.list_artifacts() == []


def test_a_20mb_file_goes_multipart_and_round_trips(repo, tmp_path, s3, s3_bucket) -> None:
    big = tmp_path / "big.bin"
    expected = _write_big_file(big, 20 * MB)
    repo.log_artifact(big, artifact_path="model")
    head = s3.head_object(Bucket=s3_bucket, Key="exp/1/run/artifacts/model/big.bin")
    assert "-" in head["ETag"], "a 20 MB upload should be multipart (ETag '<md5>-<parts>')"
    assert head["ContentLength"] == 20 * MB
    with repo.open_read("model/big.bin") as fh:
        assert _sha256_of_stream(fh) == expected
    local = repo.download_artifacts("model", tmp_path / "dst")
    with open(os.path.join(local, "big.bin"), "rb") as fh:
        assert _sha256_of_stream(fh) == expected


def test_write_stream_uploads_a_large_stream_multipart(repo, tmp_path, s3, s3_bucket) -> None:
    big = tmp_path / "big.bin"
    expected = _write_big_file(big, 20 * MB)
    with open(big, "rb") as fh:
        repo.write_stream("streamed.bin", fh)
    head = s3.head_object(Bucket=s3_bucket, Key="exp/1/run/artifacts/streamed.bin")
    assert "-" in head["ETag"]
    with repo.open_read("streamed.bin") as fh:
        assert _sha256_of_stream(fh) == expected


ESCAPES = ["../x", "a/../../x", "/etc/passwd", "..", "a\\..\\..\\x", "x\x00y"]


@pytest.mark.parametrize("bad", ESCAPES)
def test_every_escape_attempt_is_refused_with_a_message_naming_the_path(
    repo, bad: str, s3, s3_bucket, tmp_path: Path
) -> None:
    for attempt in (
        lambda: repo.write_bytes(bad, b"x"),
        lambda: repo.open_read(bad),
        lambda: repo.list_artifacts(bad),
        lambda: repo.download_artifacts(bad, tmp_path),
        lambda: repo.delete_artifacts(bad),
    ):
        with pytest.raises(InvalidParameter) as err:
            attempt()
        assert repr(bad) in err.value.message
        assert "relative" in err.value.message
    assert s3.list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_keys_planted_outside_the_tree_are_not_downloaded_outside_dst(
    repo, s3, s3_bucket, tmp_path: Path
) -> None:
    # Another writer put a key whose name would climb out of the download directory.
    s3.put_object(Bucket=s3_bucket, Key="exp/1/run/artifacts/d/../../../../evil", Body=b"x")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]] == [
        "exp/1/run/artifacts/d/../../../../evil"
    ]
    with pytest.raises(InvalidParameter):
        repo.download_artifacts(None, tmp_path / "dst")
    assert not any(p.name == "evil" for p in tmp_path.rglob("*"))


def test_an_unreachable_endpoint_is_a_retryable_unavailable_error_naming_it(
    monkeypatch, tmp_path: Path
) -> None:
    import socket

    from notebook_tracker.errors import StoreUnavailable

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("NOTEBOOK_TRACKER_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    unreachable = S3ArtifactRepository("s3://bucket/prefix")
    (tmp_path / "f.txt").write_text("x")
    for call in (
        lambda: unreachable.list_artifacts(),
        lambda: unreachable.log_artifact(str(tmp_path / "f.txt")),
        lambda: unreachable.download_artifacts("f.txt", str(tmp_path / "out")),
    ):
        with pytest.raises(StoreUnavailable) as caught:
            call()
        assert caught.value.http_status == 503
        assert endpoint in str(caught.value)
