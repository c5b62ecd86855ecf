"""`%compare_runs` of 50 runs x 100,000 points: the kernel side and the first draw (target < 1 s).

    python benchmarks/bench_compare_widget.py [--runs 50] [--points 100000] [--reps 3]
                                               [--no-browser]

Seeds a SQLite store with RUNS runs, each with a POINTS-point stepped metric (`loss`, logged in
10,000-point flushes as a training loop's buffer writes them), a single-value metric and two
params. Then times, in the kernel:
- the charts' data: every history read from the store and downsampled to 1,000 points (min/max
  per bucket), as the compact arrays the widget sends (`chart_payload`), and its JSON size;
- the whole `CompareRuns` widget (charts' data, run table and the PNG fallback of the curves).
With Chromium at /usr/bin/chromium (and Playwright), also the time from handing that data to the
widget's front end (`notebook_tracker/widgets/js/compare.js`, the sidebar's uPlot charts) to
every chart drawn, in a bare page (no JupyterLab: only the widget's own work).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

T0 = 1_700_000_000_000
FLUSH = 10_000


def seed(uri: str, runs: int, points: int) -> list:
    import numpy as np

    from notebook_tracker.client import TrackingClient
    from notebook_tracker.entities import Metric, Param

    client = TrackingClient(uri)
    store = client.store
    exp = client.create_experiment("compare")
    t = time.perf_counter()
    ids = []
    for r in range(runs):
        rid = client.create_run(exp, run_name=f"run-{r}", start_time=T0 + r).info.run_id
        rng = np.random.default_rng(r)
        values = 1 / (1 + np.arange(points) * (r + 1) / points) + rng.normal(0, 0.01, points)
        for start in range(0, points, FLUSH):
            stop = min(points, start + FLUSH)
            store.log_metric_rows(
                (rid, "loss", float(values[s]), T0 + s, s) for s in range(start, stop)
            )
        store.log_batch(
            rid,
            [Metric("accuracy", 0.5 + r / (2 * runs), T0, 0)],
            [Param("lr", str(10 ** -(1 + r % 4))), Param("width", str(32 * (1 + r % 5)))],
            [],
        )
        client.set_terminated(rid)
        ids.append(rid)
    print(f"seeded {runs} runs x {points:,} points in {time.perf_counter() - t:.1f} s")
    return [client.get_run(i) for i in ids]


def kernel_side(uri: str, runs: list, reps: int, max_points: int | None) -> dict:
    from notebook_tracker.client import TrackingClient
    from notebook_tracker.widgets.chart_payload import chart_payload
    from notebook_tracker.widgets.compare import CompareRuns
    from notebook_tracker.widgets.compare_data import ComparisonData

    payload_s, widget_s = [], []
    payload = None
    for _ in range(reps):
        client = TrackingClient(uri)  # a fresh client: nothing cached
        t = time.perf_counter()
        payload = chart_payload(ComparisonData(runs, client), max_points)
        payload_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        widget = CompareRuns(runs, TrackingClient(uri))
        widget._repr_mimebundle_()  # what display() asks for: the state and the fallbacks
        widget_s.append(time.perf_counter() - t)
    histories = payload["histories"].values()
    binary = sum(len(h[1]) for per in histories for h in per.values())
    size = len(json.dumps({**payload, "histories": {}})) + binary
    sent = binary // 24
    print(
        f"charts' data in the kernel (read + downsample + arrays): "
        f"median {statistics.median(payload_s) * 1000:.0f} ms over {reps}; "
        f"{sent:,} points sent, {size / 1e6:.2f} MB (runs as JSON, histories as float64 buffers)"
    )
    print(
        f"whole CompareRuns widget (data, table, PNG fallback): "
        f"median {statistics.median(widget_s) * 1000:.0f} ms over {reps}"
    )
    return payload


PAGE_SCRIPT = """async ([code, payload]) => {
    // Binary histories arrive base64-encoded here; over a widget comm they are ArrayBuffers.
    for (const per of Object.values(payload.histories)) {
        for (const [id, [total, b64]] of Object.entries(per)) {
            per[id] = [total, Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer];
        }
    }
    const url = URL.createObjectURL(new Blob([code], {type: 'text/javascript'}));
    const widget = (await import(url)).default;
    const model = {get: (k) => payload[k], on() {}, off() {}};
    const el = document.createElement('div');
    document.body.appendChild(el);
    const charts = Object.keys(payload.histories).length + 1;  // + the param scatter
    const t0 = performance.now();
    widget.render({model, el});
    await new Promise((resolve) => {
        const check = () => el.querySelectorAll('.nt-Chart[data-drawn="true"]').length >= charts
            ? resolve() : requestAnimationFrame(check);
        check();
    });
    return performance.now() - t0;
}"""


def first_draw(payload: dict, reps: int) -> None:
    from notebook_tracker.widgets.compare_widget import BUNDLE, STYLES

    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists() or not BUNDLE.is_file():
        print(f"first draw: skipped (needs {chromium} and the built {BUNDLE.name})")
        return
    import base64

    from playwright.sync_api import sync_playwright

    code = BUNDLE.read_text()
    histories = {
        key: {rid: [h[0], base64.b64encode(h[1]).decode()] for rid, h in per.items()}
        for key, per in payload["histories"].items()
    }
    payload = {**payload, "histories": histories}
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        for _ in range(reps):
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_content(f"<style>{STYLES.read_text()}</style>")
            times.append(page.evaluate(PAGE_SCRIPT, [code, payload]))
            page.close()
        browser.close()
    print(
        f"first draw in headless Chromium (bundle loaded, data handed over -> every chart "
        f"drawn): median {statistics.median(times):.0f} ms over {reps}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument(
        "--max-points", type=int, default=None, help="per history sent (default: the budget)"
    )
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'tracker.db'}"
        runs = seed(uri, args.runs, args.points)
        payload = kernel_side(uri, runs, args.reps, args.max_points)
        if not args.no_browser:
            first_draw(payload, args.reps)


if __name__ == "__main__":
    sys.exit(main())
