"""The native API's handler base: unknown query parameters refused, the `view` argument read."""

from __future__ import annotations

from notebook_tracker.entities import ViewType
from notebook_tracker.errors import BadRequest
from notebook_tracker.server.base import TrackerHandler

# Jupyter reads its token from the URL; browsers' XSRF form field.
_ALWAYS_OK = frozenset({"token", "_xsrf"})


class ApiHandler(TrackerHandler):
    """Base of the native handlers: unknown query parameters are refused, not ignored.

    A misspelt `filtr=` silently ignored would show every run as if it matched.
    """

    auth_resource = "notebook_tracker:runs"
    query_params: frozenset[str] = frozenset()

    async def prepare(self) -> None:
        pending = super().prepare()  # authentication first, from the bound auth base
        if pending is not None:
            await pending
        if self._finished:
            return
        # JupyterLab's request helper appends a bare timestamp (`?1795951727551`) to bust caches.
        unknown = sorted(
            name
            for name in set(self.request.query_arguments) - self.query_params - _ALWAYS_OK
            if not (name.isdigit() and self.request.query_arguments[name] == [b""])
        )
        if unknown:
            expected = ", ".join(sorted(self.query_params)) or "none"
            raise BadRequest(
                f"Unknown query parameter {unknown[0]!r} for {self.request.path}: "
                f"expected {expected}."
            )

    def view_arg(self) -> str:
        view = self.str_arg("view", ViewType.ACTIVE_ONLY)
        if view not in (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL):
            raise BadRequest(
                f"Query parameter 'view' must be ACTIVE_ONLY, DELETED_ONLY or ALL, got {view!r}."
            )
        return view
