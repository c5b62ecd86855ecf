"""A real `jupyter lab` process for browser tests and benchmarks, and a store to show in it.

`JupyterLab` starts the server on a free loopback port with a fixed token, its own config,
settings and workspace dirs (no news toast, no saved layout), the tracking store given by
`NOTEBOOK_TRACKER_URI`, and, optionally, the sidebar from an unpacked wheel (`JUPYTER_PATH`).
It is stopped by its PID.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parent / "screenshots"  # test artifacts, gitignored
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]

_QUIET_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class JupyterLab:
    def __init__(
        self,
        workdir: Path,
        root_dir: Path,
        tracking_uri: str,
        jupyter_path: Path | None = None,
        notebook7_python: str | None = None,
    ) -> None:
        """`notebook7_python`: run Notebook 7 (`python -m notebook`) from that Python instead."""
        self.notebook7_python = notebook7_python
        self.workdir = workdir
        self.root_dir = root_dir
        self.tracking_uri = tracking_uri
        self.jupyter_path = jupyter_path
        self.token = uuid.uuid4().hex
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "jupyter-lab.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def lab_url(self) -> str:
        """A fresh workspace each time, so no layout is restored from an earlier page."""
        return f"{self.base_url}lab/workspaces/{uuid.uuid4().hex}?reset&token={self.token}"

    def api_url(self, path: str) -> str:
        return f"{self.base_url}notebook-tracker/api/{path}"

    def _environment(self) -> dict[str, str]:
        config = self.workdir / "config"
        settings = self.workdir / "settings"
        config.mkdir(parents=True, exist_ok=True)
        server_config: dict[str, Any] = {"ServerApp": {"jpserver_extensions": {}}}
        server_config["ServerApp"]["jpserver_extensions"]["notebook_tracker"] = True
        if self.notebook7_python:
            # Notebook 7's venv does not see this prefix's etc/jupyter and share/jupyter/lab,
            # which give it JupyterLab (`/lab`, where Notebook 7's run links lead) in an install.
            server_config["ServerApp"]["jpserver_extensions"]["jupyterlab"] = True
            server_config["LabApp"] = {"app_dir": str(Path(sys.prefix) / "share/jupyter/lab")}
        (config / "jupyter_server_config.json").write_text(json.dumps(server_config))
        for rel, values in _QUIET_SETTINGS.items():
            path = settings / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("JUPYTER_", "NOTEBOOK_TRACKER_"))
        }
        env.update(
            NOTEBOOK_TRACKER_URI=self.tracking_uri,
            JUPYTER_CONFIG_DIR=str(config),
            JUPYTER_RUNTIME_DIR=str(self.workdir / "runtime"),
            JUPYTER_DATA_DIR=str(self.workdir / "data"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        if self.jupyter_path is not None:
            env["JUPYTER_PATH"] = str(self.jupyter_path)
        return env

    def start(self, timeout: float = 90.0) -> None:
        self.port = _free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = self._environment()
        app = "JupyterNotebookApp" if self.notebook7_python else "LabApp"
        cmd = [
            self.notebook7_python or sys.executable,
            "-m",
            "notebook" if self.notebook7_python else "jupyterlab",
            "--allow-root",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--{app}.user_settings_dir={self.workdir / 'settings'}",
            f"--{app}.workspaces_dir={self.workdir / 'workspaces'}",
            # window.jupyterapp: tests run commands (theme switch) as a user would.
            f"--{app}.expose_app_in_browser=True",
        ]
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.root_dir,
        )
        log.close()
        deadline = time.monotonic() + timeout
        status = f"{self.base_url}api/status?token={self.token}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(status, timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"jupyter lab not ready in {timeout:.0f} s:\n{self.log()}")

    def api(self, method: str, path: str) -> bytes:
        """Call the server's REST API (`/api/<path>`) with the token; the body it answers."""
        request = urllib.request.Request(
            f"{self.base_url}api/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def session_ids(self) -> list[str]:
        return [session["id"] for session in json.loads(self.api("GET", "sessions"))]

    def shut_down_kernels(self) -> None:
        """End every notebook session and its kernel (each takes 1-2 s)."""
        for session_id in self.session_ids():
            self.api("DELETE", f"sessions/{session_id}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> JupyterLab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def screenshot(page: Any, name: str) -> None:
    """Save the page as `tests/e2e/screenshots/<name>.png`."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
