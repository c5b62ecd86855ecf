"""HTTP to a tracking server: one session, token auth, retries with backoff, clear errors.

Shared by the REST tracking store and the HTTP artifact repository. Uses `requests` (a
keep-alive connection pool: logging many small batches stays fast) when it is installed,
else the standard library.
"""

from __future__ import annotations

import importlib.util
import json
import random
import threading
import time
from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import urlencode, urlsplit

from notebook_tracker import env
from notebook_tracker.errors import (
    AuthRefused,
    InvalidParameter,
    ServerUnreachable,
    TrackerError,
    from_reply,
)
from notebook_tracker.store.rest_connections import Connections, ReplyLost
from notebook_tracker.store.rest_connections import usable as connections_usable
from notebook_tracker.validation import check_token

DEFAULT_RETRIES = 5
DEFAULT_BACKOFF_S = 0.2
MAX_BACKOFF_S = 8.0
DEFAULT_TIMEOUT_S = 120.0
_JSON_HEADERS = {"Content-Type": "application/json"}
# Statuses worth retrying: the server is restarting, overloaded or briefly failing.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def token_from_env() -> str | None:
    found = env.tracking_token()
    return check_token(found[1], f"${found[0]}") if found else None


class Response:
    """Status, headers and a body that is either read whole or streamed."""

    def __init__(self, status: int, headers: dict[str, str], raw: Any, body: bytes | None):
        self.status = status
        self.headers = headers
        self._raw = raw
        self._body = body

    @property
    def body(self) -> bytes:
        if self._body is None:
            self._body = b"".join(self.iter_content())
        return self._body

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else {}

    def iter_content(self, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        if self._body is not None:
            yield self._body
            return
        try:
            while True:
                data = self._raw.read(chunk)
                if not data:
                    break
                yield data
        finally:
            self.close()

    def raw_stream(self) -> BinaryIO:
        stream: BinaryIO = self._raw
        return stream

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()


class Transport:
    """Requests to one server at `base_url` (paths are joined under it)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        max_retries: int = DEFAULT_RETRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidParameter(
                f"Invalid tracking server URL {base_url!r}: use http(s)://host:port[/prefix]."
            )
        self.base_url = base_url.rstrip("/")
        self.token = (
            check_token(token, "The tracking token") if token is not None else token_from_env()
        )
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._direct = (  # keep-alive per thread (rest_connections.py) where it applies
            Connections(self.base_url, timeout_s) if connections_usable(base_url) else None
        )
        # Whether it is installed, not imported: most calls never need it (rest_connections),
        # and importing it costs a fresh process's first point tens of ms.
        self._use_requests = importlib.util.find_spec("requests") is not None

    # -- public ---------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        resend_unanswered: bool = True,
    ) -> Any:
        """A JSON request; the decoded JSON answer, or a TrackerError naming what went wrong.
        `resend_unanswered=False` for a request that must not be applied twice (see
        `request`)."""
        data = json.dumps(body, allow_nan=False).encode() if body is not None else None
        headers = _JSON_HEADERS if data is not None else {}
        response = self.request(
            method,
            path,
            params=params,
            data=data,
            headers=headers,
            resend_unanswered=resend_unanswered,
        )
        try:
            return response.json()
        except ValueError:
            raise TrackerError(
                f"The tracking server at {self.base_url} answered {method} {path} with "
                "something that is not JSON: is this URL a notebook-tracker or MLflow server?"
            ) from None

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        data: bytes | BinaryIO | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        resend_unanswered: bool = True,
    ) -> Response:
        """Send with retries on connection errors and retryable statuses; raise on 4xx/5xx.

        A request the server received but never answered (it was restarted, or its worker
        killed, while handling it) may have been applied: with `resend_unanswered=False` it
        is not sent again but refused with an error saying so (a metric point sent twice
        would be stored twice). Requests that never left, or that were refused, are retried
        either way."""
        url = self.url(path, params)
        all_headers = dict(headers or {})
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        rewind = None
        if data is not None and not isinstance(data, bytes) and hasattr(data, "seek"):
            rewind = data.tell()
        attempt = 0
        while True:
            if rewind is not None:
                data.seek(rewind)  # type: ignore[union-attr]
            try:
                response = self._send(method, url, data, all_headers, stream, resend_unanswered)
            except OSError as exc:
                if isinstance(exc, ReplyLost) and not resend_unanswered:
                    raise ServerUnreachable(
                        f"The tracking server at {self.base_url} received {method} {path} "
                        f"but gave no usable answer ({exc}): it may have been applied or not, "
                        "so it was not sent again (a second copy would be stored twice). Check "
                        "the server (was it restarted?) and the run's data before re-sending."
                    ) from None
                if attempt >= self.max_retries:
                    raise ServerUnreachable(
                        f"Cannot reach the tracking server at {self.base_url}: {_reason(exc)}. "
                        "Is it running? (Tried "
                        f"{attempt + 1} time{'s' if attempt else ''}.)"
                    ) from None
            else:
                if response.status < 400:
                    return response
                if response.status not in RETRY_STATUSES or attempt >= self.max_retries:
                    raise self._error(method, path, response)
                response.close()
            time.sleep(self._delay(attempt))
            attempt += 1

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        url = f"{self.base_url}/{path.lstrip('/')}"
        if params:
            clean = {k: v for k, v in params.items() if v is not None}
            if clean:
                url += "?" + urlencode(clean, doseq=True)
        return url

    # -- internals ------------------------------------------------------------------------------
    def _delay(self, attempt: int) -> float:
        delay = min(MAX_BACKOFF_S, self.backoff_s * (2.0**attempt))
        return delay * (0.5 + random.random() / 2)  # jitter: workers do not retry in lockstep

    def _error(self, method: str, path: str, response: Response) -> TrackerError:
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        code = payload.get("error_code")
        message = payload.get("message") or response.body[:200].decode("utf-8", "replace")
        if response.status in (401, 403):
            hint = (
                f"set {env.TRACKING_TOKEN} to the server's token"
                if not self.token
                else f"check {env.TRACKING_TOKEN}: the server does not accept this token"
            )
            return AuthRefused(
                f"The tracking server at {self.base_url} refused the request "
                f"({response.status}): {hint}.",
                "UNAUTHENTICATED" if response.status == 401 else "PERMISSION_DENIED",
            )
        known = from_reply(code, message)
        if known is not None:
            return known
        if response.status == 404 and not code:
            message = (
                f"{method} {path} is not an endpoint of the server at {self.base_url}: is the "
                "tracking URI the server's base URL?"
            )
            return TrackerError(message, "ENDPOINT_NOT_FOUND")
        return TrackerError(
            f"The tracking server at {self.base_url} failed on {method} {path} "
            f"({response.status}): {message}",
            code or ("INTERNAL_ERROR" if response.status >= 500 else "BAD_REQUEST"),
        )

    def _send(
        self,
        method: str,
        url: str,
        data: Any,
        headers: dict[str, str],
        stream: bool,
        resend_unanswered: bool = True,
    ) -> Response:
        if self._direct is not None and not stream and (data is None or isinstance(data, bytes)):
            status, reply_headers, body = self._direct.send(
                method, url, data, headers, resend_unanswered
            )
            return Response(status, reply_headers, None, body)
        if self._use_requests:
            return self._send_requests(method, url, data, headers, stream)
        return self._send_urllib(method, url, data, headers, stream)

    def _session(self) -> Any:
        # One session per thread: requests' Session is not documented as thread-safe.
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = self._local.session = requests.Session()
        return session

    def _send_requests(
        self, method: str, url: str, data: Any, headers: dict[str, str], stream: bool
    ) -> Response:
        import requests

        try:
            r = self._session().request(
                method, url, data=data, headers=headers, timeout=self.timeout_s, stream=stream
            )
        except requests.ConnectionError as exc:
            raise ConnectionError(str(exc)) from exc
        except requests.Timeout as exc:
            raise TimeoutError(str(exc)) from exc
        if stream and r.status_code < 400:
            r.raw.decode_content = True
            return Response(r.status_code, dict(r.headers), r.raw, None)
        return Response(r.status_code, dict(r.headers), None, r.content)

    def _send_urllib(
        self, method: str, url: str, data: Any, headers: dict[str, str], stream: bool
    ) -> Response:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            raw = urllib.request.urlopen(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as exc:
            return Response(exc.code, dict(exc.headers), None, exc.read())
        except urllib.error.URLError as exc:
            raise ConnectionError(str(exc.reason)) from exc
        if stream:
            return Response(raw.status, dict(raw.headers), raw, None)
        with raw:
            return Response(raw.status, dict(raw.headers), None, raw.read())


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out"):
        if marker in text:
            return marker.lower()
    return text if len(text) < 200 else text[:197] + "..."
