"""What a comparison of runs shows, read once from the store and cached: no widgets here."""

from __future__ import annotations

import math
from typing import Any

from notebook_tracker.entities import Run


def _as_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class ComparisonData:
    """Runs side by side: their params, metrics, histories and cell code."""

    def __init__(self, runs: list[Run], client: Any = None) -> None:
        if client is None:
            from notebook_tracker.client import TrackingClient

            client = TrackingClient()
        self.client = client
        self.runs = runs
        self.param_keys = sorted({k for r in runs for k in r.data.params})
        self.metric_keys = sorted({k for r in runs for k in r.data.metrics})
        self.differing_params = [
            k for k in self.param_keys if len({r.data.params.get(k) for r in runs}) > 1
        ]
        self._histories: dict[tuple[str, str], Any] = {}
        self._texts: dict[tuple[str, str], str | None] = {}

    def label(self, run: Run) -> str:
        return f"{run.info.run_name} ({run.info.run_id[:6]})"

    def run(self, run_id: str) -> Run:
        return next(r for r in self.runs if r.info.run_id == run_id)

    def numeric_param(self, key: str) -> bool:
        values = [r.data.params.get(key) for r in self.runs if key in r.data.params]
        return bool(values) and all(_as_float(v) is not None for v in values)

    def param_axis(self, key: str) -> tuple[list[float | None], list[str] | None]:
        """A param as numbers per run; categorical params map to 0..k-1 with their labels."""
        values = [r.data.params.get(key) for r in self.runs]
        if self.numeric_param(key):
            return [_as_float(v) for v in values], None
        labels = sorted({v for v in values if v is not None})
        index = {v: float(i) for i, v in enumerate(labels)}
        return [index.get(v) if v is not None else None for v in values], labels

    def metric_values(self, key: str) -> list[float | None]:
        out = []
        for r in self.runs:
            value = r.data.metrics.get(key)
            out.append(value if value is not None and math.isfinite(value) else None)
        return out

    def history(self, run_id: str, key: str) -> Any:
        cache_key = (run_id, key)
        if cache_key not in self._histories:
            self._histories[cache_key] = self.client.get_metric_history(run_id, key)
        return self._histories[cache_key]

    def curve(self, run: Run, key: str, x: str = "step") -> tuple[list[float], list[float]]:
        """A run's metric as (x, y); x is the step, or seconds since the run started."""
        if key not in run.data.metrics:
            return [], []
        hist = self.history(run.info.run_id, key)
        ys = [float(v) for v in hist.values.tolist()]
        if x == "time":
            start = run.info.start_time or (hist.timestamps[0] if len(hist) else 0)
            xs = [(t - start) / 1000 for t in hist.timestamps.tolist()]
        else:
            xs = [float(s) for s in hist.steps.tolist()]
        return xs, ys

    def text_artifact(self, run_id: str, path: str) -> str | None:
        """A text artifact of a run (e.g. `cell/source.py`), or None when it has none."""
        cache_key = (run_id, path)
        if cache_key not in self._texts:
            from notebook_tracker.artifacts import get_artifact_repository

            text = None
            try:
                repo = get_artifact_repository(self.run(run_id).info.artifact_uri)
                with repo.open_read(path) as stream:
                    text = stream.read().decode("utf-8", "replace")
            except Exception:  # missing or unreadable: the diff says "no file"
                text = None
            self._texts[cache_key] = text
        return self._texts[cache_key]
