"""MLflow's "View run at <tracking_uri>/#/experiments/<id>/runs/<run_id>" link, for a server
inside Jupyter: it opens the run in JupyterLab's sidebar, `<base_url>lab?nt-run=<run_id>`.

The part after `#` never reaches a server, so the tracking root answers a tiny page that reads
it in the browser and moves on to JupyterLab. The same address without the `#` (as pasted by
some tools) is a plain 302. Neither needs the token: they only point at JupyterLab, which asks
for it itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import tornado.web

try:
    from jupyter_server.auth.decorator import allow_unauthenticated
except ImportError:  # jupyter_server < 2.13 checks no such marker
    _FuncT = TypeVar("_FuncT", bound=Callable[..., Any])

    def allow_unauthenticated(method: _FuncT) -> _FuncT:
        return method


LAB_RUN_PARAM = "nt-run"
_RUN_ID = r"([0-9A-Za-z_-]{1,64})"


def lab_url(base_url: str, run_id: str | None = None) -> str:
    """JupyterLab's address under `base_url`, opening `run_id` in the sidebar when given."""
    lab = base_url.rstrip("/") + "/lab"
    return f"{lab}?{LAB_RUN_PARAM}={quote(run_id, safe='')}" if run_id else lab


class TrackingRootPage(tornado.web.RequestHandler):
    """`<tracking_uri>/`: forwards `#/experiments/<id>/runs/<run_id>` to the run in JupyterLab."""

    def initialize(self, base_url: str) -> None:
        self.base_url = base_url

    @allow_unauthenticated
    def get(self) -> None:
        lab = json.dumps(lab_url(self.base_url)).replace("</", "<\\/")
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(
            "<!doctype html><meta charset='utf-8'><title>notebook-tracker</title>"
            "<script>"
            f"var lab = {lab};"
            "var m = /^#\\/experiments\\/[^\\/]+\\/runs\\/([0-9A-Za-z_-]+)/"
            ".exec(window.location.hash);"
            f"window.location.replace(m ? lab + '?{LAB_RUN_PARAM}=' + encodeURIComponent(m[1])"
            " : lab);"
            "</script>"
            f"<p>notebook-tracker runs live in JupyterLab's sidebar: <a href={lab}>open it</a>.</p>"
        )


class ViewRunRedirect(tornado.web.RequestHandler):
    """`<tracking_uri>/experiments/<id>/runs/<run_id>` (no `#`): 302 to the run in JupyterLab."""

    def initialize(self, base_url: str) -> None:
        self.base_url = base_url

    @allow_unauthenticated
    def get(self, run_id: str) -> None:
        self.redirect(lab_url(self.base_url, run_id))


def view_run_handlers(prefix: str, base_url: str) -> list[tuple[Any, ...]]:
    """Routes for the tracking root and MLflow's run links; put them before the API's catch-all."""
    root = prefix.rstrip("/")
    options = {"base_url": base_url}
    return [
        (root + r"/*", TrackingRootPage, options),
        (root + r"/+(?:%23/+)?experiments/[^/]+/runs/" + _RUN_ID + r"/*", ViewRunRedirect, options),
    ]
