"""A real `jupyter server` process for tests, configured only by the file the wheel installs."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from helpers import free_port, wait_until

REPO = Path(__file__).resolve().parent.parent


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def jupyter_server_process(
    base: Path,
    token: str,
    extra_env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
    base_url: str = "/",
) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """Start `jupyter server` under `base` (root dir `base/root`) and yield (url, root, env).

    Its config dir holds only `jupyter_server_config.d/notebook_tracker.json` from the repo,
    and no NOTEBOOK_TRACKER_* or JUPYTER* variable leaks in from the test process.
    """
    root, config = base / "root", base / "config"
    root.mkdir()
    (config / "jupyter_server_config.d").mkdir(parents=True)
    shutil.copy(
        REPO / "jupyter-config" / "server-config" / "notebook_tracker.json",
        config / "jupyter_server_config.d" / "notebook_tracker.json",
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("NOTEBOOK_TRACKER_", "JUPYTER"))
    }
    env.update(
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        **(extra_env or {}),
    )
    port = free_port()
    log_path = base / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
                "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}", "--ServerApp.allow_unauthenticated_access=False",
                f"--ServerApp.base_url={base_url}",
                *extra_args,
            ],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: proc.poll() is not None or _answers(f"{url}{base_url}api/status?token={token}"),
            timeout=90,
            what="jupyter server",
        )
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter server exited:\n{log_path.read_text(errors='replace')}")
        yield url, root, env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
