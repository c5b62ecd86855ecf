"""The one clock: milliseconds since the epoch, the unit MLflow stores every time in."""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
