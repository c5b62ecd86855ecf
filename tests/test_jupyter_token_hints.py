"""What a person meets against the tracking server inside Jupyter: a client without the Jupyter
token is told to set it and how (not "'_xsrf' argument missing"), and MLflow's printed
"View run at …" link opens the run in JupyterLab.

A real `jupyter server` process, the real `mlflow` client, and Debian's Chromium for the link.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import require_service
from jupyter_process import jupyter_server_process

pytest.importorskip("mlflow")

TOKEN = "hints-" + uuid.uuid4().hex
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# Each MLflow call prints what the client raised: a GET first (set_experiment looks the
# experiment up), then a POST (create_experiment).
REFUSED_SCRIPT = """
import mlflow
from mlflow import MlflowClient
for call in (lambda: mlflow.set_experiment("x"), lambda: MlflowClient().create_experiment("y")):
    try:
        call()
        print("NOT REFUSED")
    except Exception as exc:
        print("RAISED " + type(exc).__name__ + ": " + " ".join(str(exc).split()))
"""

LOGGING_SCRIPT = """
import mlflow
mlflow.set_experiment("linked")
with mlflow.start_run(run_name="linked-run") as run:
    mlflow.log_param("lr", 0.1)
print("RUN_ID " + run.info.run_id)
"""


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict]]:
    base = tmp_path_factory.mktemp("jupyter-hints")
    store = {"NOTEBOOK_TRACKER_URI": f"sqlite:///{base / 'tracker.db'}"}
    with jupyter_server_process(base, TOKEN, store) as (url, _root, env):
        yield url, base, env


def _mlflow(url: str, base: Path, env: dict, script: str, token: str | None) -> str:
    client_env = {
        **{k: v for k, v in env.items() if not k.startswith("MLFLOW_")},
        "MLFLOW_TRACKING_URI": f"{url}/notebook-tracker",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    if token is not None:
        client_env["MLFLOW_TRACKING_TOKEN"] = token
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=client_env, capture_output=True, text=True, timeout=180, cwd=base,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _raised(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(("RAISED", "NOT REFUSED"))]


def test_mlflow_client_without_a_token_is_told_to_set_mlflow_tracking_token(jupyter):
    url, base, env = jupyter
    raised = _raised(_mlflow(url, base, env, REFUSED_SCRIPT, token=None))
    assert len(raised) == 2, raised
    for line in raised:  # the GET and the POST alike
        assert "UNAUTHENTICATED" in line, line
        assert "This Jupyter server needs its token" in line
        assert "MLFLOW_TRACKING_TOKEN=<jupyter token>" in line
        assert "Authorization: token <jupyter token>" in line
        assert "_xsrf" not in line


def test_mlflow_client_with_a_wrong_token_is_told_it_is_not_the_servers(jupyter):
    url, base, env = jupyter
    raised = _raised(_mlflow(url, base, env, REFUSED_SCRIPT, token="not-the-token"))
    assert len(raised) == 2, raised
    for line in raised:
        assert "The token sent is not this Jupyter server's token" in line, line
        assert "MLFLOW_TRACKING_TOKEN=<jupyter token>" in line


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_unauthenticated_post_to_a_served_model_gets_a_json_401_naming_the_header(jupyter):
    url, _base, _env = jupyter
    scoring = f"{url}/notebook-tracker/models/iris/invocations"
    body = json.dumps({"inputs": [[1.0, 2.0]]}).encode()
    status, headers, payload = _post(scoring, body, {"Content-Type": "application/json"})
    assert status == 401
    assert headers["Content-Type"].startswith("application/json")
    assert payload["error_code"] == "UNAUTHENTICATED"
    assert "Authorization: token <jupyter token>" in payload["message"]
    # With the token the same request gets past authentication (no such model here).
    status, _, payload = _post(
        scoring, body, {"Content-Type": "application/json", "Authorization": f"token {TOKEN}"}
    )
    assert status == 404 and payload["error_code"] != "UNAUTHENTICATED"


def test_view_run_path_without_the_fragment_redirects_to_the_run_in_jupyterlab(jupyter):
    url, _base, _env = jupyter

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(f"{url}/notebook-tracker/experiments/3/runs/0123abcd", timeout=30)
    assert caught.value.code == 302
    assert caught.value.headers["Location"] == "/lab?nt-run=0123abcd"


def test_mlflow_printed_view_run_link_opens_the_run_in_jupyterlab(jupyter):
    url, base, env = jupyter
    out = _mlflow(url, base, env, LOGGING_SCRIPT, token=TOKEN)
    run_id = re.search(r"^RUN_ID (\w+)$", out, re.M).group(1)
    printed = re.search(r"View run linked-run at: (\S+)", out)
    assert printed, out
    link = printed.group(1)
    assert link.endswith(f"/notebook-tracker/#/experiments/1/runs/{run_id}")

    if not Path(CHROMIUM).exists():
        require_service(f"chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_service("playwright is not installed: pip install -e '.[test]'")
    landed: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()

            def stub_lab(route):  # type: ignore[no-untyped-def]
                landed.append(route.request.url)
                route.fulfill(status=200, content_type="text/html", body="<p>lab</p>")

            # JupyterLab itself is not what is tested here: where the link leads is.
            page.route(re.compile(r".*/lab(\?.*)?$"), stub_lab)
            page.goto(link)
            page.wait_for_url(re.compile(r".*/lab\?nt-run="), timeout=30_000)
        finally:
            browser.close()
    assert landed == [f"{url}/lab?nt-run={run_id}"]


def test_cookie_session_post_without_xsrf_is_told_what_to_send(jupyter):
    url, _base, _env = jupyter
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    browser.open(f"{url}/lab?token={TOKEN}", timeout=60).read()  # logs in: a session cookie
    cookies = {c.name: c.value for c in jar}
    assert "_xsrf" in cookies and len(cookies) >= 2, sorted(cookies)

    search = f"{url}/notebook-tracker/api/2.0/mlflow/runs/search"
    body = json.dumps({"experiment_ids": ["0"]}).encode()
    request = urllib.request.Request(
        search, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        browser.open(request, timeout=30)
    assert refused.value.code == 403
    payload = json.loads(refused.value.read())
    assert payload["error_code"] == "PERMISSION_DENIED"
    assert "X-XSRFToken" in payload["message"] and "Authorization: token" in payload["message"]

    request.add_header("X-XSRFToken", cookies["_xsrf"])
    with browser.open(request, timeout=30) as allowed:
        assert allowed.status == 200
