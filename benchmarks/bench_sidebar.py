"""Sidebar figures in a real JupyterLab, timed inside headless Chromium.

    python benchmarks/bench_sidebar.py [--runs 100000] [--children 1000] [--big-runs 10]
        [--points 1000000] [--reps 3]
    python benchmarks/bench_sidebar.py --server-pages [--sizes 1000,10000,100000] [--quick]

(The second form: the run list's page requests timed on the server side against MLflow's UI
search call, see benchmarks/sidebar_pages.py.)

The store (SQLite) holds `--runs` runs (3 params, 2 metrics each) in experiment "many", the
first `--children` of them children of one "parent" run (the newest), and
`--big-runs` runs in experiment "big", each with one metric of `--points` points. JupyterLab
runs with the sidebar as built in notebook_tracker/labextension (`pip install -e .` or `jlpm
build` in labextension/ builds it). Times are taken in the page with performance.now() and
requestAnimationFrame, so Playwright's own round trips are not counted.

1. First render of the run table: the "open the runs panel" command until the first rows are
   painted;
   then until all runs are loaded (the table shows the first page while the rest streams in).
2. Filter round trip: Enter in the filter box until the matching rows are painted.
3. Scrolling the 10,000-row table: frame times idle, scrolling 3 rows per frame and jumping
   far each frame, and the rows in the DOM.
4. Compare view of the big runs: click on Compare until every metric chart is drawn (each
   history downsampled by the server to 1,000 points), and one history request alone.
5. Expanding the parent: click on its ▸ until its children's rows are painted under it
   (the whole list is regrouped), and collapsing it again.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from lab_process import CHROMIUM, CHROMIUM_ARGS, JupyterLab  # noqa: E402

TAB = '.jp-SideBar [data-id="notebook-tracker-runs"]'
PANEL = "#notebook-tracker-runs"
T0 = 1_700_000_000_000

FILTERS = [
    "metrics.acc > 0.5",
    "params.optimizer = 'adam'",
    "params.lr = '0.01' and metrics.acc > 0.9",
    "attributes.run_name LIKE 'run-42%'",
    "",
]

# Resolves when `done()` is true at an animation frame: the time includes painting.
WAIT_JS = """
async ([setup, done]) => {
  const t0 = performance.now();
  (new Function(setup))();
  const ok = new Function('return (' + done + ')');
  await new Promise((resolve, reject) => {
    const tick = () => {
      if (ok()) {
        resolve();
      } else if (performance.now() - t0 > 300000) {
        reject(new Error('not done after 300 s: ' + done));
      } else {
        requestAnimationFrame(tick);
      }
    };
    requestAnimationFrame(tick);
  });
  return performance.now() - t0;
}
"""


# Runs logged through the store; the rest are copies of their rows written with sqlite3 in one
# transaction (100,000 runs through the store take about 15 minutes on 2 busy cores).
THROUGH_STORE = 2_000


def clone_runs(db: Path, experiment_id: str, first: int, total: int, parent: str, children: int):
    """Rows for runs `first`..`total - 1` of experiment "many", shaped like the logged ones."""
    import sqlite3
    import uuid

    lrs = ["0.1", "0.03", "0.01", "0.003", "0.001"]
    conn = sqlite3.connect(db)
    try:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
        template = dict(
            zip(
                cols,
                conn.execute(
                    "SELECT * FROM runs WHERE experiment_id = ? AND parent_run_id IS NULL"
                    " AND name != 'parent' LIMIT 1",
                    (int(experiment_id),),
                ).fetchone(),
                strict=True,
            )
        )
        tag_rows = conn.execute(
            "SELECT key, value FROM tags WHERE run_uuid = ?", (template["run_uuid"],)
        ).fetchall()
        runs, params, metrics, tags = [], [], [], []
        for i in range(first, total):
            rid = uuid.uuid4().hex
            row = dict(template)
            acc = (i * 7919 % 1000) / 1000
            row.update(
                run_uuid=rid,
                name=f"run-{i}",
                status="FINISHED",
                start_time=T0 + i * 1000,
                end_time=T0 + i * 1000 + 500,
                parent_run_id=parent if i < children else None,
                artifact_uri=template["artifact_uri"].replace(template["run_uuid"], rid),
            )
            runs.append(tuple(row[c] for c in cols))
            params += [
                (rid, "lr", lrs[i % len(lrs)]),
                (rid, "optimizer", "adam" if i % 3 else "sgd"),
                (rid, "seed", str(i)),
            ]
            metrics += [
                (rid, "acc", 0, T0 + i * 1000, acc, False),
                (rid, "loss", 0, T0 + i * 1000, 1 - acc, False),
            ]
            tags += [
                (rid, k, f"run-{i}" if k == "mlflow.runName" else v)
                for k, v in tag_rows
                if k != "mlflow.parentRunId"
            ]
            if i < children:
                tags.append((rid, "mlflow.parentRunId", parent))
        marks = ",".join("?" * len(cols))
        with conn:
            conn.executemany(f"INSERT INTO runs ({','.join(cols)}) VALUES ({marks})", runs)
            conn.executemany("INSERT INTO params (run_uuid, key, value) VALUES (?,?,?)", params)
            conn.executemany(
                "INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan)"
                " VALUES (?,?,?,?,?,?)",
                metrics,
            )
            conn.executemany("INSERT INTO tags (run_uuid, key, value) VALUES (?,?,?)", tags)
    finally:
        conn.close()


def seed(uri: str, runs: int, children: int, big_runs: int, points: int) -> None:
    from notebook_tracker.client import TrackingClient
    from notebook_tracker.entities import Metric, Param

    client = TrackingClient(uri)
    store = client.store
    many = client.create_experiment("many")
    t = time.perf_counter()
    lrs = ["0.1", "0.03", "0.01", "0.003", "0.001"]
    parent = store.create_run(
        many,
        user_id="bench",
        start_time=T0 + runs * 1000,
        tags={},
        run_name="parent",
        parent_run_id=None,
    ).info.run_id
    for i in range(min(runs, THROUGH_STORE)):
        run = store.create_run(
            many,
            user_id="bench",
            start_time=T0 + i * 1000,
            tags={},
            run_name=f"run-{i}",
            parent_run_id=parent if i < children else None,
        )
        acc = (i * 7919 % 1000) / 1000
        store.log_batch(
            run.info.run_id,
            [Metric("acc", acc, T0 + i * 1000, 0), Metric("loss", 1 - acc, T0 + i * 1000, 0)],
            [
                Param("lr", lrs[i % len(lrs)]),
                Param("optimizer", "adam" if i % 3 else "sgd"),
                Param("seed", str(i)),
            ],
            [],
        )
    if runs > THROUGH_STORE:
        db = Path(uri.removeprefix("sqlite:///"))
        clone_runs(db, many, THROUGH_STORE, runs, parent, children)
    print(
        f"seeded {runs:,} runs ({children:,} children of one parent)"
        f" in {time.perf_counter() - t:.1f} s"
    )
    big = client.create_experiment("big")
    t = time.perf_counter()
    chunk = 100_000
    for r in range(big_runs):
        run = client.create_run(big, run_name=f"big-{r}", start_time=T0 + r)
        rid = run.info.run_id
        client.log_param(rid, "lr", lrs[r % len(lrs)])
        client.log_param(rid, "width", str(64 * (r + 1)))
        for start in range(0, points, chunk):
            store.log_batch(
                rid,
                [
                    Metric("loss", 1.0 / (1 + s * (r + 1) / points) + (s % 97) / 1e4, T0 + s, s)
                    for s in range(start, min(points, start + chunk))
                ],
                [],
                [],
            )
        client.set_terminated(rid)
    print(f"seeded {big_runs} runs x {points:,} points in {time.perf_counter() - t:.1f} s")


def timed(page, setup: str, done: str) -> float:
    return float(page.evaluate(WAIT_JS, [setup, done]))


def fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:8.0f} ms"
    return (
        f"{statistics.median(values):8.0f} ms (median of {len(values)}: "
        + ", ".join(f"{v:.0f}" for v in values)
        + ")"
    )


def open_lab(page, lab: JupyterLab) -> None:
    page.goto(lab.lab_url())
    page.wait_for_selector(TAB, timeout=300_000)


def bench_first_render(
    browser, lab: JupyterLab, reps: int, runs: int, full_load: bool = True
) -> None:
    first, full = [], []
    for _ in range(reps):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        open_lab(page, lab)
        first.append(
            timed(
                page,
                "window.jupyterapp.commands.execute('notebook-tracker:open')",
                f"document.querySelector('{PANEL} .nt-RunsTable-row') !== null",
            )
        )
        if full_load:
            full.append(
                first[-1]
                + timed(
                    page,
                    "",
                    f"document.querySelector('{PANEL} .nt-RunsView').dataset.state === 'ready'",
                )
            )
        count = page.locator(f"{PANEL} .nt-RunCount").inner_text()
        page.close()
    print(f"1. first render of the run table ({runs:,} runs):  {fmt(first)}")
    if full:
        print(f"   all runs loaded into the table ({count}):  {fmt(full)}")


def bench_filter(browser, lab: JupyterLab, reps: int, full_load: bool) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    open_lab(page, lab)
    page.click(TAB)
    page.wait_for_selector(f"{PANEL} .nt-RunsView[data-state='ready']", timeout=300_000)
    page.select_option(f"{PANEL} .nt-ExperimentSelect", label="many")
    page.wait_for_selector(f"{PANEL} .nt-RunsView[data-state='ready']", timeout=300_000)
    print("2. filter round trip (Enter -> matching rows painted; then all matches loaded):")
    for text in FILTERS:
        first, full = [], []
        for _ in range(reps):
            gen = int(page.get_attribute(f"{PANEL} .nt-RunsView", "data-generation") or 0)
            setup = f"""
              const input = document.querySelector('{PANEL} .nt-Filter-input');
              const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
              set.call(input, {text!r});
              input.dispatchEvent(new Event('input', {{bubbles: true}}));
              input.dispatchEvent(new KeyboardEvent('keydown', {{key: 'Enter', bubbles: true}}));
            """
            view = f"document.querySelector('{PANEL} .nt-RunsView')"
            first.append(
                timed(
                    page,
                    setup,
                    f"+{view}.dataset.generation > {gen} && {view}.dataset.state !== 'loading'",
                )
            )
            if full_load:
                full.append(first[-1] + timed(page, "", f"{view}.dataset.state === 'ready'"))
            # Next rep: a different filter first, so Enter really reloads.
            page.fill(f"{PANEL} .nt-Filter-input", "metrics.acc >= 0")
            page.press(f"{PANEL} .nt-Filter-input", "Enter")
            shown = "ready" if full_load else "partial"
            view_sel = f"{PANEL} .nt-RunsView"
            page.wait_for_selector(
                f"{view_sel}[data-state='{shown}'], {view_sel}[data-state='ready']",
                timeout=300_000,
            )
        count = page.locator(f"{PANEL} .nt-RunCount").inner_text()
        label = text or "(cleared)"
        rest = f"   all: {statistics.median(full):.0f} ms" if full else ""
        print(f"   {label:<44} {fmt(first)}{rest}")
    del count
    page.close()


def bench_scroll(browser, lab: JupyterLab) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    open_lab(page, lab)
    page.click(TAB)
    page.wait_for_selector(f"{PANEL} .nt-RunsView[data-state='ready']", timeout=300_000)
    frames = page.evaluate(
        """async (panel) => {
          const el = document.querySelector(panel + ' .nt-RunsTable');
          const run = async (step) => {
            const deltas = [];
            let last = performance.now();
            for (let i = 0; i < 120; i++) {
              if (step !== null) {
                el.scrollTop = step === 'jump' ? (i * 2311) % el.scrollHeight : i * step;
              }
              await new Promise(r => requestAnimationFrame(r));
              const now = performance.now();
              deltas.push(now - last);
              last = now;
            }
            return deltas.slice(1).sort((a, b) => a - b);
          };
          return {
            idle: await run(null),
            wheel: await run(78),
            jump: await run('jump'),
            rows: document.querySelectorAll(panel + ' .nt-RunsTable-row').length
          };
        }""",
        PANEL,
    )

    def stats(deltas: list[float]) -> str:
        p95 = deltas[int(len(deltas) * 0.95) - 1]
        return f"median {statistics.median(deltas):.1f} ms, p95 {p95:.1f} ms"

    print(f"3. scrolling the table ({frames['rows']} rows in the DOM), frame times:")
    print(f"   idle page (the frame clock)          {stats(frames['idle'])}")
    print(f"   3 rows per frame (wheel-like)        {stats(frames['wheel'])}")
    print(f"   jumping ~90 rows per frame           {stats(frames['jump'])}")
    page.close()


def bench_compare(browser, lab: JupyterLab, reps: int, big_runs: int, points: int) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    open_lab(page, lab)
    page.click(TAB)
    page.wait_for_selector(f"{PANEL} .nt-RunsView[data-state='ready']", timeout=300_000)
    page.select_option(f"{PANEL} .nt-ExperimentSelect", label="big")
    page.wait_for_function(
        f"document.querySelectorAll('{PANEL} .nt-RunsTable-row').length === {big_runs}"
    )
    rows = page.locator(f"{PANEL} .nt-RunsTable-row .nt-RunsTable-check")
    rows.first.click()
    rows.nth(big_runs - 1).click(modifiers=["Shift"])
    times = []
    for _ in range(reps):
        charts = ".nt-CompareView .nt-ChartsSection"
        times.append(
            timed(
                page,
                f"document.querySelector('{PANEL} .nt-CompareButton').click()",
                f"(() => {{ const v = [...document.querySelectorAll('{charts}')].pop();"
                " if (!v) return false;"
                " const n = v.querySelectorAll('.nt-MetricChart').length;"
                " return n > 0 && v.querySelectorAll('.nt-Chart[data-drawn]').length === n; })()",
            )
        )
        page.keyboard.press("Alt+w")  # close the tab
        page.evaluate("() => window.jupyterapp.commands.execute('application:close-all')")
    print(f"4. compare view of {big_runs} runs x {points:,} points, drawn: {fmt(times)}")
    page.close()


def bench_expand(browser, lab: JupyterLab, reps: int, children: int) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    open_lab(page, lab)
    page.click(TAB)
    page.select_option(f"{PANEL} .nt-ExperimentSelect", label="many")
    page.wait_for_selector(f"{PANEL} .nt-RunsView[data-state='ready']", timeout=300_000)
    count = page.locator(f"{PANEL} .nt-RunCount").inner_text()
    # The parent is the newest run; its oldest child may be past the panel's 100,000-run cap.
    parent = f"{PANEL} .nt-RunsTable-row:not([data-children='0'])"
    page.wait_for_selector(parent)
    listed = page.get_attribute(parent, "data-children")
    opened, closed = [], []
    for _ in range(reps):
        opened.append(
            timed(
                page,
                f'document.querySelector("{parent} .nt-Expand").click()',
                f"document.querySelector('{PANEL} .nt-RunsTable-row[data-depth=\"1\"]') !== null",
            )
        )
        closed.append(
            timed(
                page,
                f'document.querySelector("{parent} .nt-Expand").click()',
                f"document.querySelector('{PANEL} .nt-RunsTable-row[data-depth=\"1\"]') === null",
            )
        )
    print(
        f"5. expanding a parent with {children:,} children ({listed} of them and {count} listed):"
        f" {fmt(opened)}"
    )
    print(f"   collapsing it again:  {fmt(closed)}")
    page.close()


def bench_history_request(lab: JupyterLab, reps: int) -> None:
    import json

    def get(path: str) -> dict:
        req = urllib.request.Request(
            lab.api_url(path), headers={"Authorization": f"token {lab.token}"}
        )
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.load(r)

    run = get("runs?filter=attributes.run_name%20%3D%20%27big-0%27")["runs"][0]
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        data = get(f"runs/{run['run_id']}/metrics/loss/history?max_points=1000&x=step")
        times.append((time.perf_counter() - t) * 1000)
    print(
        f"   one history request ({data['total']:,} points -> {len(data['value'])}): {fmt(times)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--children", type=int, default=1_000)
    ap.add_argument("--big-runs", type=int, default=10)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument(
        "--no-full-load",
        action="store_true",
        help="time only the first rows of each filter, not the load of every match",
    )
    ap.add_argument(
        "--only",
        default="render,filter,scroll,expand,compare",
        help="comma-separated parts to time: render, filter, scroll, expand, compare",
    )
    ap.add_argument(
        "--store",
        type=Path,
        help="keep the seeded store in this folder and reuse it on the next run (seeding 100,000"
        " runs takes minutes); the figures are the same as with a fresh store",
    )
    ap.add_argument(
        "--server-pages",
        action="store_true",
        help="instead: the run list's page requests timed on the server at --sizes runs, "
        "against MLflow's UI search call (benchmarks/sidebar_pages.py)",
    )
    ap.add_argument("--sizes", default="1000,10000,100000", help="with --server-pages")
    ap.add_argument("--quick", action="store_true", help="with --server-pages: 1k and 10k, 3 reps")
    ap.add_argument(
        "--count",
        action="store_true",
        help="instead: the run list's count (api/runs?count=true) timed on the server at --sizes "
        "runs, ours only (e.g. --sizes 100000,1000000)",
    )
    args = ap.parse_args()
    if args.server_pages or args.count:
        import sidebar_pages

        sizes = [1000, 10000] if args.quick else [int(x) for x in args.sizes.split(",")]
        run = sidebar_pages.count_main if args.count else sidebar_pages.main
        run(sizes, 3 if args.quick else args.reps)
        return
    # A SIGTERM (e.g. from `timeout`) unwinds the with-blocks, so JupyterLab is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    built = ROOT / "notebook_tracker" / "labextension"
    if not (built / "package.json").exists():
        sys.exit("The sidebar is not built: `pip install -e .` or `jlpm build` in labextension/.")
    if not Path(CHROMIUM).exists():
        sys.exit(f"chromium is needed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="nt-bench-sidebar-") as tmp:
        base = Path(tmp)
        (base / "root").mkdir()
        store_dir = args.store or base
        store_dir.mkdir(parents=True, exist_ok=True)
        db = store_dir / "tracker.db"
        uri = f"sqlite:///{db}"
        seeded = store_dir / f"seeded-{args.runs}-{args.children}-{args.big_runs}-{args.points}"
        if not seeded.exists():
            db.unlink(missing_ok=True)
            seed(uri, args.runs, args.children, args.big_runs, args.points)
            seeded.touch()
        else:
            print(f"reusing the store seeded in {store_dir}")
        # The sidebar as built in the source tree, found through JUPYTER_PATH.
        data = base / "jupyter"
        (data / "labextensions").mkdir(parents=True)
        (data / "labextensions" / "notebook-tracker").symlink_to(built)
        with JupyterLab(base / "lab", base / "root", uri, jupyter_path=data) as lab:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                parts = {p.strip() for p in args.only.split(",")}
                try:
                    if "render" in parts:
                        bench_first_render(
                            browser, lab, args.reps, args.runs, not args.no_full_load
                        )
                    if "filter" in parts:
                        bench_filter(browser, lab, args.reps, not args.no_full_load)
                    if "scroll" in parts:
                        bench_scroll(browser, lab)
                    if "expand" in parts:
                        bench_expand(browser, lab, args.reps, args.children)
                    if "compare" in parts:
                        bench_compare(browser, lab, args.reps, args.big_runs, args.points)
                        bench_history_request(lab, args.reps)
                finally:
                    browser.close()


if __name__ == "__main__":
    main()
