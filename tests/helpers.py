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
