"""Small helpers shared by tests: free ports, waiting for services, service requirements.

Import them as ``from helpers import free_port`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import NoReturn

import pytest

from notebook_tracker import env


def require_all_enabled() -> bool:
    """True when CI demands that every test runs (``NOTEBOOK_TRACKER_REQUIRE_ALL=1``)."""
    return os.environ.get(env.REQUIRE_ALL, "").strip().lower() in {"1", "true", "yes", "on"}


def require_service(reason: str) -> NoReturn:
    """Skip the current test because a service is missing; fail instead under REQUIRE_ALL."""
    if require_all_enabled():
        pytest.fail(f"{reason} ({env.REQUIRE_ALL}=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    condition: Callable[[], bool],
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "condition",
) -> None:
    """Poll ``condition`` until it returns true; raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(interval)


def execute_in_kernel(nb: object, folder: object, uri: str, timeout: int = 300) -> None:
    """Run a notebook top to bottom in a real kernel (nbclient) started in `folder`, logging to
    `uri` (the kernel inherits NOTEBOOK_TRACKER_URI); this process's variables are put back after.
    Raises CellExecutionError, naming the cell, if any cell fails."""
    from nbclient import NotebookClient

    keys = ("NOTEBOOK_TRACKER_URI", "NOTEBOOK_TRACKER_ARTIFACT_ROOT")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["NOTEBOOK_TRACKER_URI"] = uri
    os.environ.pop("NOTEBOOK_TRACKER_ARTIFACT_ROOT", None)
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(folder)}},
        ).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
