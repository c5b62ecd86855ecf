"""How search, the DataFrame build, the sidebar's first page and a history read grow with the
number of runs: notebook-tracker against MLflow (if installed) on SQLite and PostgreSQL.

    python benchmarks/bench_scale.py [--quick] [--sizes 10000,100000] [--backends sqlite,postgres]
                                     [--postgres-uri postgresql://user:pw@host:port/db]

Databases are built fast, straight into each tool's tables: our schema from our store, MLflow's
from MLflow's own SqlAlchemyStore on an empty database, then the runs bulk-inserted (executemany
on SQLite, COPY on PostgreSQL with the secondary indexes built after), the runs table in the
order the runs started, as a store that logged them holds it. Each run: 3 params, 3 latest
metrics, 4 tags; two experiments; plus one run with a 100,000-point history per database. Our
runs' values are packed (runs.packed_values, as a store's background packer does after its
first big read) before measuring, and the time that takes is printed. Built databases are
cached under /tmp/ntbench/scale keyed by size and layout (a 1M build takes minutes), so reruns
only measure.
Without --postgres-uri, a PostgreSQL server is started from /usr/lib/postgresql/*/bin on a free
port with its data under /tmp/ntbench/scale/pgdata (kept, for the cache), and stopped at the end.

Workloads (median of interleaved repetitions, ours then MLflow's in each):
  search       filter + order, 100 rows into a DataFrame (the issue's 10x target)
  frame        every run into a DataFrame, at most 100,000 (target: 100,000 in under 1 s)
  sidebar      the sidebar's first page: 100 rows of our native run list query (ours only)
  history      one metric's 100,000 points
(--workloads search,frame measures a subset: MLflow's history read alone takes seconds a rep.)
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import glob
import io
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path("/tmp/ntbench/scale")
PARAMS = 3
HISTORY_POINTS = 100_000
SEARCH_FILTER = "metrics.acc > 0.5 and params.lr = '0.01'"
SEARCH_ORDER = ["metrics.acc DESC"]
FRAME_CAP = 100_000
# How fill lays the tables out; a cached database built another way is built again.
LAYOUT = "runs-by-start"
TARGETS = {"search": "10x", "frame": "<1 s at 100k", "sidebar": "-", "history": "10x"}


# -- the runs ----------------------------------------------------------------------------------


def run_rows(size: int, exps: list[int], by_start: bool = False) -> Iterator[dict[str, Any]]:
    """One dict per run with everything both schemas need; the same runs for both tools."""
    rng = random.Random(size)
    uuids = [f"{rng.getrandbits(128):032x}" for _ in range(size)]
    t0 = 1_700_000_000_000
    # The params, tags and metrics in run_uuid order: every index keyed by run_uuid then grows at
    # its end instead of taking random inserts (a 1M-run build goes from most of an hour to
    # minutes); the runs themselves in the order they started, as a store that logged them one
    # by one holds them (see fill). Same runs either way.
    for i in range(size) if by_start else sorted(range(size), key=uuids.__getitem__):
        acc = (i * 7919 % 1000) / 1000
        start = t0 + i * 1000
        yield {
            "run_uuid": uuids[i],
            "experiment_id": exps[i % len(exps)],
            "name": f"run-{i}",
            "user_id": "bench",
            "status": "FINISHED",
            "start_time": start,
            "end_time": start + 500,
            "params": {
                "lr": str([0.1, 0.01, 0.001][i % 3]),
                "depth": str(i % 10),
                "model": ["cnn", "rnn", "mlp", "gbm"][i % 4],
            },
            "metrics": {"acc": acc, "loss": 1 - acc, "f1": (i * 31 % 100) / 100},
            "tags": {
                "mlflow.runName": f"run-{i}",
                "mlflow.user": "bench",
                "mlflow.source.type": "NOTEBOOK",
                "team": ["vision", "nlp"][i % 2],
            },
        }


class Bulk:
    """Inserts rows into named columns of tables, as fast as the driver allows."""

    def __init__(self, dbapi: Any, dialect: str) -> None:
        self.dbapi, self.dialect = dbapi, dialect

    def insert(self, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> None:
        cur = self.dbapi.cursor()
        names = ", ".join(f'"{c}"' for c in columns)
        if self.dialect == "sqlite":
            marks = ", ".join("?" for _ in columns)
            cur.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)
            return
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerows(rows)
        buf.seek(0)
        cur.copy_expert(f'COPY "{table}" ({names}) FROM STDIN WITH (FORMAT csv)', buf)


def fill(bulk: Bulk, system: str, size: int, exps: list[int], artifact_root: str) -> None:
    """The runs table in the order the runs started (a store writes each run's row when it
    starts it, so its rows lie in that order: a page of the newest runs is read off adjacent
    pages; built in run_uuid order, the 50,000 newest of 1M runs took SQLite 224 instead of
    111 ms to read), then the runs' params, tags and latest metrics in run_uuid order."""
    chunk: list[dict[str, Any]] = []

    def flush_runs() -> None:
        if not chunk:
            return
        runs_columns = ["run_uuid", "experiment_id", "name", "user_id", "status", "start_time"]
        runs_columns += ["end_time", "lifecycle_stage", "artifact_uri"]
        extra = ["source_type", "source_name", "source_version"] if system == "mlflow" else []
        bulk.insert(
            "runs",
            runs_columns + extra,
            (
                (
                    r["run_uuid"],
                    r["experiment_id"],
                    r["name"],
                    r["user_id"],
                    r["status"],
                    r["start_time"],
                    r["end_time"],
                    "active",
                    f"{artifact_root}/{r['experiment_id']}/{r['run_uuid']}/artifacts",
                    *(["LOCAL", "", ""] if extra else []),
                )
                for r in chunk
            ),
        )
        chunk.clear()

    def flush_values() -> None:
        if not chunk:
            return
        kv = ["run_uuid", "key", "value"]
        bulk.insert(
            "params", kv, ((r["run_uuid"], k, v) for r in chunk for k, v in r["params"].items())
        )
        bulk.insert(
            "tags", kv, ((r["run_uuid"], k, v) for r in chunk for k, v in r["tags"].items())
        )
        # Finished runs' rows are settled: on our PostgreSQL store with the copy of the value
        # that its settled index orders (migration 0011).
        copy = system == "ours" and bulk.dialect == "postgresql"
        bulk.insert(
            "latest_metrics",
            ["run_uuid", "key", "value", "step", "timestamp", "is_nan"]
            + (["settled_value"] if copy else []),
            (
                (r["run_uuid"], k, v, 0, r["start_time"], False, *((v,) if copy else ()))
                for r in chunk
                for k, v in r["metrics"].items()
            ),
        )
        chunk.clear()

    for by_start, flush in ((True, flush_runs), (False, flush_values)):
        for row in run_rows(size, exps, by_start):
            chunk.append(row)
            if len(chunk) == 50_000:
                flush()
        flush()


# -- building each database ----------------------------------------------------------------------


def raw_connection(uri: str) -> tuple[Any, str]:
    if uri.startswith("sqlite:///"):
        import sqlite3

        conn = sqlite3.connect(uri[len("sqlite:///") :])
        conn.execute("PRAGMA cache_size = -1048576")  # 1 GiB: the indexes stay in memory
        conn.execute("PRAGMA synchronous = OFF")  # a half-built database is rebuilt anyway
        return conn, "sqlite"
    import psycopg2

    return psycopg2.connect(uri.replace("postgresql+psycopg2://", "postgresql://")), "postgresql"


@contextlib.contextmanager
def indexes_dropped(conn: Any, dialect: str) -> Iterator[None]:
    """On PostgreSQL, the runs' secondary indexes dropped during the bulk load and built once
    after it: building an index by one sort is much cheaper than growing it by 1M inserts.
    Primary keys and unique constraints stay (they keep the load honest)."""
    if dialect != "postgresql":
        yield
        return
    cur = conn.cursor()
    cur.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes AS i WHERE i.schemaname = "
        "current_schema() AND i.tablename IN ('runs', 'params', 'tags', 'latest_metrics', "
        "'metrics') AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conname = "
        "i.indexname)"
    )
    definitions = cur.fetchall()
    for name, _ in definitions:
        cur.execute(f'DROP INDEX "{name}"')
    conn.commit()
    yield
    for _, ddl in definitions:
        cur.execute(ddl)
    conn.commit()


def build_ours(uri: str, size: int, artifact_root: str) -> str:
    import notebook_tracker as nt
    from notebook_tracker.entities import Metric

    client = nt.TrackingClient(uri)
    exps = [int(client.create_experiment(n, artifact_root)) for n in ("scale-a", "scale-b")]
    conn, dialect = raw_connection(uri)
    with indexes_dropped(conn, dialect):
        fill(Bulk(conn, dialect), "ours", size, exps, artifact_root)
        conn.commit()
    conn.close()
    run = client.create_run(str(exps[0]), run_name="history")
    points = [Metric("loss", 1 / (i + 1), 1_700_000_000_000 + i, i) for i in range(HISTORY_POINTS)]
    client.store.log_batch(run.info.run_id, points, [], [])
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def build_mlflow(uri: str, size: int, artifact_root: str) -> str:
    import mlflow
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    SqlAlchemyStore(uri, artifact_root)  # MLflow's own schema and migrations
    client = mlflow.MlflowClient(uri)
    exps = [int(client.create_experiment(n, artifact_root)) for n in ("scale-a", "scale-b")]
    conn, dialect = raw_connection(uri)
    bulk = Bulk(conn, dialect)
    with indexes_dropped(conn, dialect):
        fill(bulk, "mlflow", size, exps, artifact_root)
        conn.commit()
    run = client.create_run(str(exps[0]), run_name="history")
    rid = run.info.run_id
    bulk.insert(
        "metrics",
        ["run_uuid", "key", "value", "timestamp", "step", "is_nan"],
        (
            (rid, "loss", 1 / (i + 1), 1_700_000_000_000 + i, i, False)
            for i in range(HISTORY_POINTS)
        ),
    )
    conn.commit()
    conn.close()
    client.log_metric(rid, "loss", 1 / HISTORY_POINTS, step=HISTORY_POINTS)  # latest_metrics
    client.set_terminated(rid)
    return rid


class Postgres:
    """A PostgreSQL server of our own, its data kept under ROOT so built databases persist."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable  # PostgreSQL's own defaults: each commit flushed (bench_ingest)
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins:
            raise SystemExit("no PostgreSQL under /usr/lib/postgresql: pass --postgres-uri")
        self.bin = bins[-1]
        self.data = ROOT / "pgdata"
        self.sock = Path(tempfile.mkdtemp(prefix="ntbench-pg-"))
        self.user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        subprocess.run([*self.user, *args], check=True, stdout=subprocess.DEVNULL, cwd="/tmp")

    def start(self) -> str:
        if os.geteuid() == 0:
            shutil.chown(self.sock, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            for stale in ROOT.glob("postgresql-*.built"):  # their databases went with the data
                stale.unlink()
            self.data.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.data, "postgres", "postgres")
            self._run(
                f"{self.bin}/initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--auth-local=trust",
                "--auth-host=trust",
            )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c shared_buffers=1GB"
        if not self.durable:  # a build's millions of rows, not a figure of durable writes
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            f"{self.bin}/pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.sock / "pg.log"),  # a directory the server's own user may write in
            "-w",
            "-t",
            "120",
            "-o",
            opts,
            "start",
        )
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        self._run(f"{self.bin}/pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


def database_uri(backend: str, system: str, size: int, server: str | None) -> str:
    name = f"{system}_{size}"
    if backend == "sqlite":
        return f"sqlite:///{ROOT / (name + '.db')}"
    import psycopg2

    admin = psycopg2.connect(server)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (f"ntbench_{name}",))
        if cur.fetchone() is None:
            cur.execute(f"CREATE DATABASE ntbench_{name}")
            # A marker from another server (or data directory) is not this database's.
            (ROOT / f"postgresql-{system}-{size}.built").unlink(missing_ok=True)
    admin.close()
    base, _, _ = server.rpartition("/")
    if system == "mlflow":  # SQLAlchemy's default PostgreSQL driver may be psycopg 3
        base = base.replace("postgresql://", "postgresql+psycopg2://", 1)
    return f"{base}/ntbench_{name}"


def ensure_built(backend: str, system: str, size: int, server: str | None) -> tuple[str, str]:
    """(the database's URI, the id of its run with a long history)."""
    uri = database_uri(backend, system, size, server)
    marker = ROOT / f"{backend}-{system}-{size}.built"
    if marker.exists():
        built = json.loads(marker.read_text())
        if built.get("layout") == LAYOUT:  # else built by an older bench_scale: built again
            return uri, built["history_run"]
    if backend == "sqlite":
        Path(uri[len("sqlite:///") :]).unlink(missing_ok=True)
    else:  # a half-built database from an interrupted run: start it again
        import psycopg2

        admin = psycopg2.connect(server)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS ntbench_{system}_{size}")
            cur.execute(f"CREATE DATABASE ntbench_{system}_{size}")
        admin.close()
    t = time.perf_counter()
    artifacts = str(ROOT / "artifacts")
    history_run = (build_ours if system == "ours" else build_mlflow)(uri, size, artifacts)
    if backend == "postgresql":
        conn, _ = raw_connection(uri)
        conn.autocommit = True
        conn.cursor().execute("VACUUM ANALYZE")
        conn.close()
    marker.write_text(json.dumps({"history_run": history_run, "layout": LAYOUT}))
    print(
        f"  built {system} {backend} {size:,} runs in {time.perf_counter() - t:.0f} s",
        file=sys.stderr,
    )
    return uri, history_run


# -- the workloads -------------------------------------------------------------------------------


def median_ms(fn: Callable[[], Any], reps: int) -> float:
    fn()  # warm: connections, compiled statements
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
        if times[-1] > 20_000:
            break
    return statistics.median(times)


def pack(client: Any, size: int) -> None:
    """Pack the runs' values (runs.packed_values) before measuring, and say how long it took.

    A store's first big read starts the same packing on a background thread and reads the
    normalized tables meanwhile; the runs here were bulk-inserted (or the store was just
    migrated), so none is packed yet. Done in the foreground so that every figure below is of
    a packed store, as a store is once its packer caught up."""
    started = time.perf_counter()
    done = client.store.pack_runs()
    if not done:
        return
    print(
        f"  packed {done:,} runs of {size:,} in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    writer = client.store.writer
    if writer.dialect.name == "postgresql":
        # Packing rewrote every runs row once: half the table is dead rows until autovacuum
        # comes by, and a figure taken before it measures that transient (one 10k search pass
        # was 3x slower). A store in use is vacuumed; so is this one, and the time is printed.
        from sqlalchemy import text

        started = time.perf_counter()
        with writer.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE runs"))
        print(f"  vacuumed runs in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def ours_workloads(uri: str, hist: str, size: int) -> dict[str, Callable[[], Any]]:
    import notebook_tracker as nt
    from notebook_tracker.store.sql_run_rows import search_run_rows

    nt.set_tracking_uri(uri)
    client = nt.TrackingClient(uri)
    exps = [e.experiment_id for e in client.search_experiments() if e.name.startswith("scale-")]
    cap = min(size, FRAME_CAP)
    pack(client, size)

    def search() -> None:
        df = nt.search_runs(exps, SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=100)
        assert len(df) == 100, len(df)

    def frame() -> None:
        df = nt.search_runs(exps, max_results=cap)
        assert len(df) == cap, len(df)

    def sidebar() -> None:
        rows, _ = search_run_rows(
            client.store, exps, "", "ACTIVE_ONLY", 100, None, None, with_tags=False
        )
        json.dumps(rows)
        assert len(rows) == 100

    def history() -> None:
        assert len(client.get_metric_history(hist, "loss")) == HISTORY_POINTS

    return {"search": search, "frame": frame, "sidebar": sidebar, "history": history}


def mlflow_workloads(uri: str, hist: str, size: int) -> dict[str, Callable[[], Any]]:
    import mlflow

    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(uri)
    exps = [e.experiment_id for e in client.search_experiments() if e.name.startswith("scale-")]
    cap = min(size, FRAME_CAP)

    def search() -> None:
        df = mlflow.search_runs(exps, SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=100)
        assert len(df) == 100, len(df)

    def frame() -> None:
        df = mlflow.search_runs(exps, max_results=cap)
        assert len(df) == cap, len(df)

    def history() -> None:
        assert len(client.get_metric_history(hist, "loss")) == HISTORY_POINTS + 1

    return {"search": search, "frame": frame, "history": history}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 runs, SQLite")
    parser.add_argument("--sizes", help="comma-separated run counts (default 1k,10k,100k,1M)")
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument("--postgres-uri", help="a server to create the databases on")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per figure")
    parser.add_argument("--no-mlflow", action="store_true", help="ours only")
    parser.add_argument(
        "--workloads",
        default=",".join(TARGETS),
        help="comma-separated subset of search,frame,sidebar,history",
    )
    parser.add_argument(
        "--mlflow-max-runs",
        type=int,
        default=100_000,
        help="sizes above this measure ours only (MLflow's 1M search takes minutes a call)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in (args.sizes or "1000,10000,100000,1000000").split(",")]
    backends = ["postgresql" if b.startswith("postgres") else b for b in args.backends.split(",")]
    if args.quick:
        sizes = [int(s) for s in (args.sizes or "1000,10000").split(",")]
        backends = (
            ["sqlite"]
            if not args.backends or args.backends == parser.get_default("backends")
            else backends
        )
    try:
        import mlflow  # noqa: F401

        with_mlflow = not args.no_mlflow
    except ImportError:
        with_mlflow = False
    ROOT.mkdir(parents=True, exist_ok=True)
    pg = None
    server = args.postgres_uri
    if "postgresql" in backends and server is None:
        pg = Postgres()
        server = pg.start()
    try:
        print("| backend | runs | workload | ours ms | MLflow ms | MLflow/ours | target |")
        print("|---|---:|---|---:|---:|---:|---|")
        for backend in backends:
            for size in sizes:
                mlflow_here = with_mlflow and size <= args.mlflow_max_runs
                if with_mlflow and not mlflow_here:
                    print(f"| {backend} | {size:,} | (MLflow not run: --mlflow-max-runs) |||||")
                measure(backend, size, server, mlflow_here, args.reps, args.workloads.split(","))
    finally:
        if pg is not None:
            pg.stop()


def measure(
    backend: str,
    size: int,
    server: str | None,
    with_mlflow: bool,
    reps: int,
    workloads: list[str] | None = None,
) -> None:
    ours = ours_workloads(*ensure_built(backend, "ours", size, server), size)
    theirs = (
        mlflow_workloads(*ensure_built(backend, "mlflow", size, server), size)
        if with_mlflow
        else {}
    )
    for name, fn in ours.items():
        if workloads is not None and name not in workloads:
            continue
        slow = name == "frame" and size >= 10_000
        n = max(1, reps // 2) if slow else reps
        # Interleaved: each repetition of ours is followed by one of MLflow's.
        ours_ms: list[float] = []
        theirs_ms: list[float] = []
        for _ in range(n):
            ours_ms.append(median_ms(fn, 1))
            if name in theirs:
                theirs_ms.append(median_ms(theirs[name], 1))
        a = statistics.median(ours_ms)
        b = statistics.median(theirs_ms) if theirs_ms else None
        shown = f"{b:.1f}" if b is not None else "-"
        ratio = f"{b / a:.1f}x" if b is not None else "-"
        label = f"{name} ({min(size, FRAME_CAP):,} rows)" if name == "frame" else name
        print(
            f"| {backend} | {size:,} | {label} | {a:.1f} | {shown} | {ratio} | {TARGETS[name]} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
