"""The places a server owns, and the one check that a location lands inside them.

A tracking server is configured with artifact roots (its artifacts destination, the store's
default artifact root, and any extra roots an operator allows). Anything a client sends that
names a location (an experiment's `artifact_location`, a model version's `source`) and
anything read back from the database before it is touched on disk or in a bucket goes through
`ArtifactRoots.confine`, so a row written by an older version or directly in SQL cannot lead
outside either.

Rules, strict on purpose (a location is an address, not a pattern):
- schemes: a plain absolute path or `file:///abs/path` (local), `s3://bucket/prefix`, and
  `mlflow-artifacts:/path` (this server's own proxy; never a host of the client's choosing);
- no query or fragment (no '?' or '#' at all), no `user@host` or foreign host, no NUL or
  control characters, no lone surrogates, no backslash, no `.` / `..` segments and no
  percent-escapes in the path: all refused rather than normalised, because a location that
  needs normalising was not written by our own clients;
- local locations are compared after resolving symlinks, so a link inside a root that points
  outside it does not count as inside.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from notebook_tracker.errors import InvalidParameter

PROXY_SCHEME = "mlflow-artifacts"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Location:
    """A parsed location: `kind` is "local", "s3" or "proxy"; `path` is absolute for local,
    "bucket/key/prefix" for s3, and relative ("a/b", "" = the root) for the proxy."""

    kind: str
    path: str

    def uri(self) -> str:
        if self.kind == "s3":
            return f"s3://{self.path}"
        if self.kind == "proxy":
            return f"{PROXY_SCHEME}:/{self.path}"
        return self.path


def _refuse(uri: object, reason: str, allowed: str) -> InvalidParameter:
    shown = repr(uri)
    if len(shown) > 200:
        shown = shown[:200] + "..."
    error = InvalidParameter(f"Invalid artifact location {shown}: {reason}. {allowed}".rstrip())
    error.reason = reason  # type: ignore[attr-defined]
    return error


def _check_segments(uri: str, path: str, allowed: str) -> list[str]:
    parts = [p for p in path.split("/") if p != ""]
    for part in parts:
        if part in (".", ".."):
            raise _refuse(uri, "relative segments ('.' or '..') are not allowed", allowed)
    if "%" in path:
        raise _refuse(uri, "percent-escapes are not allowed in a location", allowed)
    return parts


def parse_location(uri: object, allowed: str = "") -> Location:
    """Parse `uri` strictly into a Location, or raise InvalidParameter saying what is wrong."""
    if not isinstance(uri, str) or not uri:
        raise _refuse(uri, "expected a non-empty string", allowed)
    if _CONTROL.search(uri):
        raise _refuse(uri, "it contains a NUL or control character", allowed)
    try:
        uri.encode("utf-8")
    except UnicodeEncodeError:
        raise _refuse(uri, "it is not valid Unicode (a lone surrogate)", allowed) from None
    if "\\" in uri:
        raise _refuse(uri, "it contains a backslash", allowed)
    if "?" in uri or "#" in uri:
        # Even in a plain path: a location is an address, and these would be a query or a
        # fragment to whatever parses it next.
        raise _refuse(uri, "queries and fragments ('?', '#') are not allowed", allowed)
    match = _SCHEME.match(uri)
    scheme = match.group(1).lower() if match else ""
    if scheme == "":
        if not uri.startswith("/"):
            raise _refuse(uri, "a local location must be an absolute path", allowed)
        parts = _check_segments(uri, uri, allowed)
        return Location("local", "/" + "/".join(parts))
    try:
        split = urlsplit(uri)
    except ValueError as exc:
        raise _refuse(uri, f"it does not parse as a URI ({exc})", allowed) from None
    if scheme == "file":
        if split.netloc not in ("", "localhost"):
            raise _refuse(uri, f"host {split.netloc!r} is not this machine", allowed)
        if not split.path.startswith("/"):
            raise _refuse(uri, "a file: location must be absolute (file:///abs/path)", allowed)
        parts = _check_segments(uri, split.path, allowed)
        return Location("local", "/" + "/".join(parts))
    if scheme == "s3":
        bucket = split.netloc
        if not bucket or "@" in bucket or ":" in bucket:
            raise _refuse(uri, "expected s3://bucket/prefix", allowed)
        parts = _check_segments(uri, split.path, allowed)
        return Location("s3", "/".join([bucket, *parts]))
    if scheme == PROXY_SCHEME:
        # `mlflow-artifacts://host/path` is how clients name the server they talk to; the host
        # is never contacted, the path is always this server's own.
        parts = _check_segments(uri, split.path, allowed)
        return Location("proxy", "/".join(parts))
    raise _refuse(uri, f"scheme {scheme!r} is not served here", allowed)


def _parse_root(root: str) -> Location:
    """An operator-given root: a path (made absolute), `file:` or `s3:` URI."""
    text = root if _SCHEME.match(root) else os.path.abspath(os.path.expanduser(root))
    try:
        loc = parse_location(text)
    except InvalidParameter as exc:
        raise InvalidParameter(
            f"Invalid artifact root {root!r}: {getattr(exc, 'reason', exc.message)}; a root is "
            "a directory or s3://bucket/prefix."
        ) from None
    if loc.kind == "proxy":
        raise InvalidParameter(
            f"Invalid artifact root {root!r}: a root must be a directory or s3://bucket/prefix."
        )
    return loc


def _realpath(path: str) -> str:
    return os.path.realpath(path)


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class ArtifactRoots:
    """The roots a server owns; `confine` accepts a location only when it lands inside one.

    `proxy_root` is where `mlflow-artifacts:` locations live (the artifacts destination); it
    is also one of the roots. Roots are local paths, `file:` URIs or `s3://` URIs.
    """

    def __init__(self, roots: Iterable[str], proxy_root: str | None = None, hint: str = "") -> None:
        self.hint = hint
        parsed: list[Location] = []
        for root in [*([proxy_root] if proxy_root else []), *roots]:
            if not root:
                continue
            loc = _parse_root(root)
            if loc not in parsed:
                parsed.append(loc)
        self.roots: tuple[Location, ...] = tuple(parsed)
        self.proxy_root: Location | None = _parse_root(proxy_root) if proxy_root else None

    def describe(self) -> str:
        hint = f" {self.hint}" if self.hint else ""
        if not self.roots:
            return f"This server has no artifact roots configured.{hint}"
        names = ", ".join(repr(r.uri()) for r in self.roots)
        proxy = f" or {PROXY_SCHEME}:/<path>" if self.proxy_root else ""
        return f"Allowed: a location inside {names}{proxy}.{hint}"

    def confine(self, uri: str) -> str:
        """The storage URI (a local path or s3:// URI) for `uri`, checked to be inside a root.

        `mlflow-artifacts:` locations map to the proxy root. Raises InvalidParameter naming the
        allowed roots otherwise.
        """
        allowed = self.describe()
        loc = parse_location(uri, allowed)
        if loc.kind == "proxy":
            if self.proxy_root is None:
                raise _refuse(
                    uri,
                    "this server has no artifact destination for proxied locations "
                    "(start it with --artifacts-destination)",
                    allowed,
                )
            base = self.proxy_root
            joined = f"{base.path.rstrip('/')}/{loc.path}" if loc.path else base.path
            loc = Location(base.kind, joined)
        for root in self.roots:
            if root.kind != loc.kind:
                continue
            if loc.kind == "local":
                if _within(_realpath(loc.path), _realpath(root.path)):
                    return loc.path
            elif _within(loc.path, root.path):
                return loc.uri()
        raise _refuse(uri, "it is outside every artifact root of this server", allowed)

    def canonical(self, uri: str) -> str:
        """The form of an accepted client-supplied location to store: confined, then rewritten
        without what the server ignores (a proxy host, `file:`, empty segments), so no other
        client is ever sent to a host the first one chose."""
        self.confine(uri)
        return parse_location(uri).uri()

    def contains(self, uri: str) -> bool:
        try:
            self.confine(uri)
        except InvalidParameter:
            return False
        return True
