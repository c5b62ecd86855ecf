"""Artifact stores: `get_artifact_repository(uri)` picks one by the URI's scheme.

Stores are imported on demand so that importing this package stays cheap.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from notebook_tracker.artifacts.base import ArtifactRepository
from notebook_tracker.artifacts.paths import safe_relpath
from notebook_tracker.errors import InvalidParameter

if TYPE_CHECKING:
    from notebook_tracker.artifacts.local import LocalArtifactRepository
    from notebook_tracker.artifacts.s3 import S3ArtifactRepository

__all__ = [
    "ArtifactRepository",
    "LocalArtifactRepository",
    "S3ArtifactRepository",
    "get_artifact_repository",
    "safe_relpath",
]

SUPPORTED = (
    "a local path, file:///path, s3://bucket/prefix, mlflow-artifacts:/path (a tracking "
    "server's artifact proxy)"
)

# A scheme per RFC 3986; one letter is a Windows drive ("C:\\runs"), not a scheme.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


def get_artifact_repository(uri: str) -> ArtifactRepository:
    """The repository for `uri`: no scheme or `file:` is local, `s3:` is S3."""
    if not isinstance(uri, str) or not uri:
        raise InvalidParameter(f"Invalid artifact URI {uri!r}: expected {SUPPORTED}.")
    match = _SCHEME.match(uri)
    scheme = match.group(1).lower() if match else ""
    if scheme in ("", "file"):
        from notebook_tracker.artifacts.local import LocalArtifactRepository

        return LocalArtifactRepository(uri)
    if scheme == "s3":
        from notebook_tracker.artifacts.s3 import S3ArtifactRepository

        return S3ArtifactRepository(uri)
    if scheme in ("mlflow-artifacts", "http", "https"):
        from notebook_tracker.artifacts.http import HttpArtifactRepository

        return HttpArtifactRepository(uri)
    raise InvalidParameter(
        f"Unsupported artifact URI scheme {scheme!r} in {uri!r}. Supported: {SUPPORTED}."
    )


def __getattr__(name: str) -> object:
    if name == "LocalArtifactRepository":
        from notebook_tracker.artifacts.local import LocalArtifactRepository

        return LocalArtifactRepository
    if name == "S3ArtifactRepository":
        from notebook_tracker.artifacts.s3 import S3ArtifactRepository

        return S3ArtifactRepository
    raise AttributeError(name)
