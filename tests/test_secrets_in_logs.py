"""Tokens never reach a log or an error message, whichever way a client sends them.

Real processes: a standalone server and a Jupyter server are attacked with good and bad
tokens in the query string, `Authorization` headers (Bearer, token, Basic) and cookies, and
everything they wrote is searched for the token strings. A token HTTP cannot carry is refused
where it is configured, with one line that does not repeat it.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from jupyter_process import jupyter_server_process
from standalone_server import running_server

from notebook_tracker import redaction

TOKEN = "srv-T0ken-6c1f9a2e"
WRONG = "wr0ng-T0ken-77d2b4"
SEARCH = "/api/2.0/mlflow/experiments/search"


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"user:{password}".encode()).decode()


def _attack(base: str, path: str, good: str) -> list[int]:
    """Every way of sending a token, good and wrong; the statuses, in order."""
    statuses = []
    for token in (good, WRONG):
        statuses.append(_get(f"{base}{path}?token={token}"))
        statuses.append(_get(f"{base}{path}?max_results=5&token={token}"))
        statuses.append(_get(f"{base}/no/such/endpoint?token={token}"))
        statuses.append(_get(f"{base}{path}?token={token}&max_results=not-a-number"))
        statuses.append(_get(base + path, {"Authorization": f"Bearer {token}"}))
        statuses.append(_get(base + path, {"Authorization": f"token {token}"}))
        statuses.append(_get(base + path, {"Authorization": _basic(token)}))
        statuses.append(_get(base + "/no/such/endpoint", {"Authorization": f"Bearer {token}"}))
        statuses.append(_get(base + path, {"Cookie": f"token={token}"}))
    return statuses


def _assert_no_token(text: str, *tokens: str) -> None:
    for token in tokens:
        assert token not in text, f"token {token!r} leaked:\n{text}"
        encoded = base64.b64encode(f"user:{token}".encode()).decode()
        assert encoded not in text, f"Basic credentials for {token!r} leaked:\n{text}"


@pytest.mark.parametrize("workers", [1, 2])
def test_standalone_server_logs_no_token(tmp_path: Path, workers: int) -> None:
    store = f"sqlite:///{tmp_path / 'store' / 'tracker.db'}"
    with running_server(tmp_path, store, workers=workers, token=TOKEN) as server:
        statuses = _attack(server.url, SEARCH, TOKEN)
        log = server.log()
    # The attack reached the server: the good token is accepted, the wrong one refused...
    assert statuses[0] == 200 and statuses[4] == 200 and statuses[6] == 200
    assert 401 in statuses[9:]
    # ...and its failures are logged, with the query's secret replaced.
    assert f"401 GET {SEARCH}?token={redaction.SECRET}" in log
    assert f"?max_results=5&token={redaction.SECRET}" in log
    _assert_no_token(log, TOKEN, WRONG)


def test_jupyter_server_logs_no_token(tmp_path: Path) -> None:
    jupyter_token = "jup-T0ken-3e8b51c0"
    with jupyter_server_process(tmp_path, jupyter_token) as (url, _root, _env):
        # Jupyter prints its own URL, token included, when it starts: judge only what follows.
        log_path = tmp_path / "server.log"
        start = len(log_path.read_bytes())
        statuses = _attack(url, "/notebook-tracker/api/experiments", jupyter_token)
        log = log_path.read_bytes()[start:].decode(errors="replace")
    assert statuses[0] == 200 and statuses[4] == 200
    assert 403 in statuses[9:] or 401 in statuses[9:]
    assert "/notebook-tracker/api/experiments" in log  # the refusals were logged
    _assert_no_token(log, jupyter_token, WRONG)


def test_request_in_a_logged_traceback_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    """An uncaught exception makes tornado log repr(request), whose URI holds the query."""
    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

    redaction.install()
    request = HTTPServerRequest(
        start_line=RequestStartLine("GET", f"/api/x?a=1&token={TOKEN}", "HTTP/1.1"),
        headers=HTTPHeaders({"Host": "127.0.0.1", "Authorization": f"Bearer {TOKEN}"}),
    )
    with caplog.at_level(logging.ERROR, logger="tornado.application"):
        try:
            raise RuntimeError(f"failed on {request.uri}")
        except RuntimeError:
            logging.getLogger("tornado.application").error(
                "Uncaught exception %s\n%r", request.uri, request, exc_info=True
            )
    text = caplog.text
    assert "Uncaught exception" in text and "RuntimeError" in text
    _assert_no_token(text, TOKEN)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NOTEBOOK_TRACKER_", "MLF"))}
    return subprocess.run(
        [sys.executable, "-m", "notebook_tracker.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The failure's `Error:` line, after checking it is the only one and no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize("how", ["option", "environment"])
def test_server_refuses_a_non_ascii_token_at_start(tmp_path: Path, how: str) -> None:
    token = "tökén-ünïcode"
    args = ["server", "--backend-store-uri", f"sqlite:///{tmp_path / 'x.db'}", "--port", "0"]
    if how == "option":
        result = _cli(*args, "--auth-token", token)
    else:
        result = _cli(*args, env={"NOTEBOOK_TRACKER_SERVER_TOKEN": token})
    line = _one_error_line(result)
    assert line.startswith("Error: The server token") and "ASCII" in line
    assert token not in result.stderr + result.stdout
    assert "listening" not in result.stdout


@pytest.mark.parametrize("variable", ["NOTEBOOK_TRACKER_TOKEN", "MLFLOW_TRACKING_TOKEN"])
def test_client_refuses_a_non_ascii_token(tmp_path: Path, variable: str) -> None:
    token = "clïent-tökén"
    with running_server(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", workers=1) as server:
        result = _cli("experiments", "list", "--tracking-uri", server.url, env={variable: token})
    assert _one_error_line(result).startswith(f"Error: ${variable} ")
    assert token not in result.stderr + result.stdout


def test_an_ascii_token_works_end_to_end(tmp_path: Path) -> None:
    """The check refuses only what HTTP cannot carry: punctuation-rich tokens still work."""
    token = "A-z_0.9~!$&'()*+,;=:@%/?"
    with running_server(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", workers=1, token=token) as s:
        ok = _cli(
            "experiments", "list", "--tracking-uri", s.url, env={"MLFLOW_TRACKING_TOKEN": token}
        )
        refused = _cli(
            "experiments", "list", "--tracking-uri", s.url, env={"MLFLOW_TRACKING_TOKEN": "nope"}
        )
        log = s.log()
    assert ok.returncode == 0 and "Default" in ok.stdout, ok.stderr
    assert refused.returncode == 1 and "refused the request (401)" in refused.stderr
    assert token not in log and token not in refused.stderr


def test_a_password_in_a_tracking_server_url_stays_out_of_errors() -> None:
    from helpers import free_port

    from notebook_tracker.client import TrackingClient
    from notebook_tracker.errors import TrackerError

    url = f"http://me:{TOKEN}@127.0.0.1:{free_port()}"
    with pytest.raises(TrackerError) as raised:
        TrackingClient(url).search_experiments()
    assert "Cannot reach the tracking server at http://me:" in str(raised.value)
    _assert_no_token(str(raised.value), TOKEN)
