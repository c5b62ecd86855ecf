"""The Jupyter server's auth base: Jupyter's identity, XSRF and origin rules, then its
Authorizer by verb. Imported only when handlers are bound for a Jupyter server."""

from __future__ import annotations

from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import ensure_async

from notebook_tracker.errors import PermissionDenied, Unauthenticated
from notebook_tracker.server.base import READ_METHODS

# Largest body of a refused request that is still read before answering (see JupyterAuth).
_REFUSED_BODY_READ = 1024 * 1024


class JupyterAuth(APIHandler):
    """Jupyter's identity, XSRF and origin rules, then the Authorizer by verb.

    A request Jupyter cannot identify is a JSON 401 saying how to send the token, where
    Jupyter would answer 403 "'_xsrf' argument missing" (a POST without a cookie) or a
    bare 403 (a GET): clients like MLflow's never send Jupyter's XSRF cookie.
    """

    auth_resource: str  # set by the handler class this is mixed into

    async def prepare(self) -> None:  # type: ignore[override]
        try:
            await super().prepare()
        except (tornado.web.HTTPError, Unauthenticated) as exc:
            refusal = self._explain_refusal(exc)
            if self._large_body_follows():
                raise refusal from None
            # Refuse from the verb, once the request is read: answering a streamed request
            # before its body closes the connection (unread data resets it, and keep-alive
            # clients such as MLflow's see "connection reset" instead of this answer).
            self._refuse_after_body(refusal)
            return
        authorizer = self.settings.get("authorizer")
        user = self.current_user
        if authorizer is None or user is None:
            return
        action = "read" if self.request.method in READ_METHODS else "write"
        allowed = await ensure_async(
            authorizer.is_authorized(self, user, action, self.auth_resource)
        )
        if not allowed:
            raise tornado.web.HTTPError(403, "Not authorized to %s %s", action, self.auth_resource)

    def get_login_url(self) -> str:
        # `@tornado.web.authenticated` on a GET without a user asks for a login page.
        if not self.current_user:
            raise Unauthenticated(self._token_hint())
        return str(super().get_login_url())

    def _explain_refusal(self, exc: Exception) -> Exception:
        if not isinstance(exc, tornado.web.HTTPError):
            return exc
        if exc.status_code != 403 or not self.check_host():
            return exc
        if not self.current_user:
            return Unauthenticated(self._token_hint())
        if "_xsrf" in (exc.log_message or ""):
            return PermissionDenied(
                "This request is authenticated by Jupyter's browser cookie but carries no "
                "XSRF token: send the Jupyter token instead ('Authorization: token "
                "<jupyter token>'), or the _xsrf cookie's value as an X-XSRFToken header."
            )
        return exc

    def _large_body_follows(self) -> bool:
        length = self.request.headers.get("Content-Length", "").strip()
        return length.isascii() and length.isdigit() and int(length) > _REFUSED_BODY_READ

    def _refuse_after_body(self, refusal: Exception) -> None:
        def refuse(*args: Any, **kwargs: Any) -> None:
            raise refusal

        setattr(self, (self.request.method or "get").lower(), refuse)

    def _token_hint(self) -> str:
        offered = self.request.headers.get("Authorization", "").strip() or (
            self.get_query_argument("token", None)
        )
        start = (
            "The token sent is not this Jupyter server's token"
            if offered
            else "This Jupyter server needs its token"
        )
        return (
            f"{start}: set MLFLOW_TRACKING_TOKEN=<jupyter token> for MLflow clients, or "
            "send the header 'Authorization: token <jupyter token>' (`jupyter server "
            "list` shows the token in each server's URL)."
        )
