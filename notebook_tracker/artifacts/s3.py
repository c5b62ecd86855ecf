"""Artifacts in an S3-protocol bucket: `s3://bucket/prefix`.

The endpoint comes from NOTEBOOK_TRACKER_S3_ENDPOINT_URL, else MLFLOW_S3_ENDPOINT_URL, else
AWS_ENDPOINT_URL (MinIO, moto, ...); credentials and region from the usual AWS settings.
Files move through boto3's transfer manager, so large ones go multipart and stream from/to
disk; `open_read` streams the object body. boto3 is imported on first use only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO

from notebook_tracker import env
from notebook_tracker.artifacts.base import ArtifactRepository
from notebook_tracker.entities import FileInfo
from notebook_tracker.errors import InvalidParameter, NotFound, StoreUnavailable, TrackerError

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

ENDPOINT_ENV_VARS = env.S3_ENDPOINT_VARIABLES
MULTIPART_THRESHOLD = 8 * 1024 * 1024
MULTIPART_CHUNKSIZE = 8 * 1024 * 1024
_DELETE_BATCH = 1000


def endpoint_url_from_env() -> str | None:
    """The first endpoint URL set among ENDPOINT_ENV_VARS, or None for AWS itself."""
    return env.s3_endpoint_url()


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, prefix without surrounding slashes) of an `s3://bucket/prefix` URI."""
    if not uri.lower().startswith("s3://"):
        raise InvalidParameter(f"Not an S3 URI: {uri!r}. Expected s3://bucket/prefix.")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise InvalidParameter(f"S3 URI {uri!r} names no bucket. Expected s3://bucket/prefix.")
    return bucket, prefix.strip("/")


class S3ArtifactRepository(ArtifactRepository):
    """Artifacts as objects under `prefix/` in `bucket`; directories are key prefixes."""

    def __init__(
        self,
        root_uri: str,
        client: Any | None = None,
        transfer_config: TransferConfig | None = None,
    ) -> None:
        super().__init__(root_uri)
        self.bucket, self.prefix = parse_s3_uri(root_uri)
        self._client_obj = client
        self._transfer_config = transfer_config

    # -- boto3 plumbing -------------------------------------------------------------------

    @property
    def _client(self) -> Any:
        if self._client_obj is None:
            import boto3

            self._client_obj = boto3.client("s3", endpoint_url=endpoint_url_from_env())
        return self._client_obj

    @property
    def transfer_config(self) -> TransferConfig:
        if self._transfer_config is None:
            from boto3.s3.transfer import TransferConfig

            self._transfer_config = TransferConfig(
                multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNKSIZE
            )
        return self._transfer_config

    def _key(self, rel: str) -> str:
        return "/".join(p for p in (self.prefix, rel) if p)

    def _dir_prefix(self, rel: str) -> str:
        key = self._key(rel)
        return f"{key}/" if key else ""

    def _rel(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    def _error(self, exc: Exception, rel: str) -> Exception:
        """A TrackerError for the client errors a user can act on; others pass through."""
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, BotoCoreError):
            # Connection refused, timeouts, DNS: nothing the client sent is wrong; try later.
            return StoreUnavailable(
                f"S3 endpoint {endpoint_url_from_env() or 'AWS'} for {self.root_uri!r} could not "
                f"be reached ({type(exc).__name__}). Check that it is up and the endpoint URL "
                f"({env.S3_ENDPOINT_URL}) is right, then retry."
            )
        if not isinstance(exc, ClientError):
            return exc
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "InternalError"):
            return StoreUnavailable(
                f"S3 answered {code or status} for {self.root_uri!r}: it is failing or "
                "overloaded. Retry later."
            )
        if code == "NoSuchBucket":
            return NotFound(
                f"S3 bucket {self.bucket!r} of artifact root {self.root_uri!r} does not exist. "
                "Create it or point the artifact root at an existing bucket."
            )
        if code in ("NoSuchKey", "404", "NotFound"):
            return NotFound(f"No artifact file {rel!r} under {self.root_uri}.")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return TrackerError(
                f"Access to {self.root_uri!r} denied by S3 ({code}). Check the AWS credentials "
                "and the bucket policy.",
                error_code="PERMISSION_DENIED",
            )
        return exc

    # -- primitives -----------------------------------------------------------------------

    def _upload_file(self, local_file: str, rel: str) -> None:
        try:
            self._client.upload_file(
                local_file, self.bucket, self._key(rel), Config=self.transfer_config
            )
        except Exception as exc:
            raise self._error(_unwrap(exc), rel) from exc

    def _upload_stream(self, fileobj: BinaryIO, rel: str) -> None:
        try:
            self._client.upload_fileobj(
                fileobj, self.bucket, self._key(rel), Config=self.transfer_config
            )
        except Exception as exc:
            raise self._error(_unwrap(exc), rel) from exc

    def _download_file(self, rel: str, local_file: str) -> None:
        try:
            self._client.download_file(
                self.bucket, self._key(rel), local_file, Config=self.transfer_config
            )
        except Exception as exc:
            raise self._error(_unwrap(exc), rel) from exc

    def _list(self, rel: str) -> list[FileInfo]:
        prefix = self._dir_prefix(rel)
        infos = []
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes", []):
                    infos.append(FileInfo(self._rel(common["Prefix"].rstrip("/")), True, None))
                for obj in page.get("Contents", []):
                    if obj["Key"] == prefix:  # a "directory marker" object
                        continue
                    infos.append(FileInfo(self._rel(obj["Key"]), False, int(obj["Size"])))
        except Exception as exc:
            raise self._error(exc, rel) from exc
        return infos

    def _open_read(self, rel: str) -> BinaryIO:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=self._key(rel))["Body"]
        except Exception as exc:
            raise self._error(exc, rel) from exc

    def _is_file(self, rel: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(rel))
        except Exception as exc:
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else 0
            if str(code) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._error(exc, rel) from exc
        return True

    def _is_dir(self, rel: str) -> bool:
        try:
            page = self._client.list_objects_v2(
                Bucket=self.bucket, Prefix=self._dir_prefix(rel), MaxKeys=1
            )
        except Exception as exc:
            raise self._error(exc, rel) from exc
        return page.get("KeyCount", 0) > 0

    def _delete(self, rel: str) -> None:
        keys = [self._key(rel)] if rel else []
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._dir_prefix(rel)):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
            for start in range(0, len(keys), _DELETE_BATCH):
                batch = [{"Key": k} for k in keys[start : start + _DELETE_BATCH]]
                self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
        except Exception as exc:
            raise self._error(exc, rel) from exc


def _unwrap(exc: Exception) -> Exception:
    """The ClientError inside the transfer manager's wrapper exceptions, if any."""
    from botocore.exceptions import ClientError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ClientError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc
