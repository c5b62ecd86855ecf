"""Live card updates while a tracked cell runs, off the logging hot path.

A daemon thread looks at the newest rows of the run's in-memory metric buffer (a deque the
cell appends to) every `SAMPLE_S` and re-renders the card at most every `REFRESH_S`.
`log_metric` is untouched: the thread only reads the deque's tail by index, which is atomic
under the GIL. The flusher drains the deque concurrently, so between two looks some points
are never seen: the live sparkline is a sample. The final card reads the full history.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from notebook_tracker.widgets.card_html import CardState, Series

SAMPLE_S = 0.1
REFRESH_S = 0.5
TAIL_ROWS = 64
MAX_LIVE_POINTS = 400


class LiveSampler:
    """Collects the newest points of one run from a metric buffer's deque."""

    def __init__(self, rows: deque[Any], run_id: str, state: CardState) -> None:
        self.rows = rows
        self.run_id = run_id
        self.state = state
        self._last_seen: Any = None

    def sample(self) -> bool:
        """Read the deque's tail back to the last row seen; True when something new arrived."""
        rows = self.rows
        fresh = []
        for i in range(1, TAIL_ROWS + 1):
            try:
                row = rows[-i]
            except IndexError:
                break
            if row is self._last_seen:
                break
            fresh.append(row)
        if not fresh:
            return False
        self._last_seen = fresh[0]
        changed = False
        for run_id, key, value, timestamp, step in reversed(fresh):
            if run_id != self.run_id:
                continue
            series = self.state.series.get(key)
            if series is None:
                series = self.state.series[key] = Series()
            if len(series.values) >= MAX_LIVE_POINTS:
                # Keep every other point: the sparkline stays the same shape, memory stays small.
                series.steps[:] = series.steps[::2]
                series.times[:] = series.times[::2]
                series.values[:] = series.values[::2]
            series.add(step, timestamp, value)
            self.state.metrics[key] = value
            changed = True
        return changed


class LiveUpdater:
    """Runs a `LiveSampler` and refreshes `card` from a background thread until `stop()`."""

    def __init__(self, card: Any, sampler: LiveSampler) -> None:
        self.card = card
        self.sampler = sampler
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notebook-tracker-live", daemon=True)

    def start(self) -> LiveUpdater:
        self._thread.start()
        return self

    def _run(self) -> None:
        last_refresh = time.monotonic()
        pending = False
        while not self._stop.wait(SAMPLE_S):
            try:
                pending = self.sampler.sample() or pending
                now = time.monotonic()
                # The duration ticks too: refresh on schedule even without new points.
                if now - last_refresh >= REFRESH_S:
                    self.card.refresh()
                    last_refresh, pending = now, False
            except Exception:  # a card that cannot update must never disturb the cell
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
