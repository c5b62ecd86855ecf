"""Live card updates while a tracked cell runs, off the logging hot path.

`log_metric` is untouched. Two readers feed the card: every `SAMPLE_S` a daemon thread reads
the newest rows of the run's in-memory metric buffer (indexing a deque's tail is atomic under
the GIL) for the latest values; and the buffer's flusher hands each batch it wrote to
`LiveSampler.on_batch`, which keeps a bounded series per metric for the sparklines. The card is
re-rendered at most every `REFRESH_S`. The final card reads the full history from the store.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from notebook_tracker.widgets.card_html import CardState, Series

SAMPLE_S = 0.1
REFRESH_S = 0.5
TAIL_ROWS = 64
MAX_LIVE_POINTS = 400


class LiveSampler:
    """What the live card knows of one run's metrics, from a metric buffer."""

    def __init__(self, buffer: Any, run_id: str, state: CardState) -> None:
        self.buffer = buffer
        self.run_id = run_id
        self.state = state
        self.lock = threading.Lock()
        self._last_seen: Any = None
        self._dirty = False

    def sample(self) -> bool:
        """Latest values from the buffer's tail; True when the card has something new."""
        rows = self.buffer.rows
        fresh = []
        for i in range(1, TAIL_ROWS + 1):
            try:
                row = rows[-i]
            except IndexError:
                break
            if row is self._last_seen:
                break
            fresh.append(row)
        with self.lock:
            changed, self._dirty = self._dirty, False
            if fresh:
                self._last_seen = fresh[0]
                for run_id, key, value, _timestamp, _step in reversed(fresh):
                    if run_id == self.run_id:
                        self.state.metrics[key] = value
                        changed = True
        return changed

    def on_batch(self, batch: list[tuple[str, str, float, int, int]]) -> None:
        """Points the flusher wrote (called in its thread): they extend the sparklines."""
        run_id = self.run_id
        mine = [row for row in batch if row[0] == run_id]
        if not mine:
            return
        with self.lock:
            series_by_key = self.state.series
            for _, key, value, timestamp, step in mine:
                series = series_by_key.get(key)
                if series is None:
                    series = series_by_key[key] = Series()
                series.add(step, timestamp, value)
                if len(series.values) >= MAX_LIVE_POINTS:
                    # Every other point: the same shape in half the memory.
                    del series.steps[::2], series.times[::2], series.values[::2]
                self.state.metrics.setdefault(key, value)
            self._dirty = True


class LiveUpdater:
    """Runs a `LiveSampler` and refreshes `card` from a background thread until `stop()`."""

    def __init__(self, card: Any, sampler: LiveSampler) -> None:
        self.card = card
        self.sampler = sampler
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notebook-tracker-live", daemon=True)

    def start(self) -> LiveUpdater:
        self.sampler.buffer.listeners.append(self.sampler.on_batch)
        self._thread.start()
        return self

    def _run(self) -> None:
        last_refresh = time.monotonic()
        while not self._stop.wait(SAMPLE_S):
            try:
                self.sampler.sample()
                now = time.monotonic()
                # The duration ticks too: refresh on schedule even without new points.
                if now - last_refresh >= REFRESH_S:
                    with self.sampler.lock:
                        self.card.refresh()
                    last_refresh = now
            except Exception:  # a card that cannot update must never disturb the cell
                return

    def stop(self) -> None:
        self._stop.set()
        try:
            self.sampler.buffer.listeners.remove(self.sampler.on_batch)
        except ValueError:
            pass
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
