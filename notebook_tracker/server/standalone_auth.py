"""The standalone server's auth base: its configured token, or nothing when unset."""

from __future__ import annotations

import base64
import hmac
from typing import TYPE_CHECKING

import tornado.web

from notebook_tracker.errors import Unauthenticated

if TYPE_CHECKING:
    from notebook_tracker.server.context import TrackerContext


class StandaloneAuth(tornado.web.RequestHandler):
    """Authentication of the standalone server: the configured token, or nothing when unset.

    Accepted as `Authorization: Bearer <token>`, `Authorization: token <token>`, HTTP Basic
    with the token as password (what MLflow clients send for username/password), or a `token`
    query parameter (links opened in a browser).
    """

    context: TrackerContext

    def prepare(self) -> None:
        expected = self.context.auth_token
        if expected and not self._token_matches(expected):
            raise Unauthenticated(
                "This tracking server needs a token: send 'Authorization: Bearer <token>' "
                "(set NOTEBOOK_TRACKER_TOKEN or MLFLOW_TRACKING_TOKEN on the client)."
            )

    def get_current_user(self) -> str:
        return "token" if self.context.auth_token else "anonymous"

    def _token_matches(self, expected: str) -> bool:
        offered = header_tokens(self.request.headers.get("Authorization", ""))
        query_token = self.get_query_argument("token", None)
        if query_token:
            offered.append(query_token)
        return any_token_matches(expected, offered)


def header_tokens(authorization: str) -> list[str]:
    """The tokens an `Authorization` header offers (Bearer, token, or Basic's password)."""
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    if scheme in ("bearer", "token"):
        return [value.strip()]
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return []
        return [decoded.partition(":")[2]]
    return []


def any_token_matches(expected: str, offered: list[str]) -> bool:
    """Whether one of `offered` is the server's token, compared in constant time."""
    for candidate in offered:
        if hmac.compare_digest(candidate.encode(), expected.encode()):
            return True
    return False
