"""Durability figures for logging over http://, beside MLflow against the same server.

    python benchmarks/bench_durability.py [--quick]

Each workload runs in a fresh subprocess that starts its own `notebook-tracker server`
(SQLite store, one worker) on a free loopback port. Prints:
- `log_metric` per call over http:// while the server is up, against a bare `list.append`
  (the fast path must stay within 20x), and MLflow's `log_metric` (synchronous and async);
- replay after an outage: points logged while the server was down go to the journal; the
  server comes back and `flush()` delivers them in order (points/s, end to end, so bounded by
  how fast the server ingests log-batch requests);
- a client SIGKILLed mid-outage: how many of the points it logged into the outage reach the
  server once it is back (the next process replays the journal), and the same for MLflow's
  async logging;
- the client's own replay ceiling: the same journal replayed to a server that answers each
  log-batch at once without storing it (what the client side costs).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

HAVE_MLFLOW = importlib.util.find_spec("mlflow") is not None

COMMON = """
import atexit, json, os, signal, socket, subprocess, sys, tempfile, time
d = tempfile.mkdtemp()
os.environ["NOTEBOOK_TRACKER_JOURNAL_DIR"] = os.path.join(d, "journal")

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def wait_port(port, proc):
    for _ in range(600):
        assert proc.poll() is None, "server exited"
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")

def start_server(port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEBOOK_TRACKER_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "notebook_tracker.cli", "server",
         "--backend-store-uri", f"sqlite:///{d}/server.db",
         "--artifacts-destination", f"{d}/artifacts", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    started.append(proc)
    wait_port(port, proc)
    return proc

def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

started = []
atexit.register(lambda: [stop(p) for p in started])

NULL_SERVER = '''
import sys, tornado.ioloop, tornado.web
class Sink(tornado.web.RequestHandler):
    def post(self):
        self.set_header("Content-Type", "application/json")
        self.finish(b"{}")
tornado.web.Application([(r"/.*", Sink)]).listen(int(sys.argv[1]), "127.0.0.1")
tornado.ioloop.IOLoop.current().start()
'''

port = free_port()
url = f"http://127.0.0.1:{port}"
server = start_server(port)
"""

NT = {
    "log_metric": """
import notebook_tracker as nt
nt.set_tracking_uri(url)
N = {n}
REPS = 10
chunk = N // REPS
wall = {{"append": 0.0, "call": 0.0}}
cpu = {{"append": 0.0, "call": 0.0}}
with nt.start_run() as run:
    for rep in range(REPS):  # interleaved, so both see the same conditions
        lst = []
        t, c = time.perf_counter(), time.process_time()
        for i in range(chunk):
            lst.append(i)
        wall["append"] += time.perf_counter() - t
        cpu["append"] += time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        for i in range(rep * chunk, (rep + 1) * chunk):
            nt.log_metric("loss", 0.5, step=i)
        wall["call"] += time.perf_counter() - t
        cpu["call"] += time.process_time() - c
    t = time.perf_counter()
durable_s = time.perf_counter() - t
assert len(nt.get_metric_history(run.info.run_id, "loss")) == N
stop(server)
# CPU time of this process (the flusher thread included) does not count the time other
# processes took the cores, which on a busy machine swamps the wall-clock figures.
print(json.dumps({{"per_call_us": wall["call"] / N * 1e6, "append_us": wall["append"] / N * 1e6,
                  "cpu_call_us": cpu["call"] / N * 1e6, "cpu_append_us": cpu["append"] / N * 1e6,
                  "durable_after_end_s": durable_s}}))
""",
    "replay": """
import notebook_tracker as nt
from notebook_tracker.store.rest_outbox import MetricsUndelivered
nt.set_tracking_uri(url)
N = {n}
run = nt.start_run()
nt.log_metric("warmup", 1.0)
nt.flush()
stop(server)
t = time.perf_counter()
for i in range(N):
    nt.log_metric("loss", i * 0.5, step=i)
try:
    nt.flush()
except MetricsUndelivered:
    pass
spill_s = time.perf_counter() - t
journal = [os.path.join(r, f) for r, _, fs in os.walk(os.environ["NOTEBOOK_TRACKER_JOURNAL_DIR"])
           for f in fs if f.endswith(".ntj")]
journal_bytes = sum(os.path.getsize(p) for p in journal)
sink = None
if {null_sink}:  # the client's ceiling: a server that takes each batch without storing it
    sink = subprocess.Popen([sys.executable, "-c", NULL_SERVER, str(port)], start_new_session=True)
    started.append(sink)
    wait_port(port, sink)
else:
    server = start_server(port)
outbox = nt.active_run().buffer.sink
outbox.next_try = 0.0
t = time.perf_counter()
nt.flush()
replay_s = time.perf_counter() - t
if sink is None:
    steps = [m.step for m in nt.get_metric_history(run.info.run_id, "loss")]
    assert steps == list(range(N)), len(steps)
    nt.end_run()
    stop(server)
else:
    stop(sink)
print(json.dumps({{"points_per_s": N / replay_s, "replay_s": replay_s, "spill_s": spill_s,
                  "journal_bytes_per_point": journal_bytes / N}}))
""",
}

# A client SIGKILLed 2 s into an outage, after logging N points into it: how many of them reach
# the server once it is back and another process starts a run there.
KILLED = """
CLIENT = r'''
import os, sys, time
if sys.argv[1] == "nt":
    import notebook_tracker as nt
    nt.set_tracking_uri(sys.argv[2])
    run = nt.start_run()
    log = lambda i: nt.log_metric("x", float(i), step=i)
else:
    import mlflow
    mlflow.set_tracking_uri(sys.argv[2])
    run = mlflow.start_run()
    log = lambda i: mlflow.log_metric("x", float(i), step=i, synchronous=False)
print(run.info.run_id, flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[3])):
    log(i)
time.sleep(2)
print("logged", flush=True)
time.sleep(600)
'''
client = subprocess.Popen([sys.executable, "-c", CLIENT, "{tool}", url, str({n})],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
run_id = client.stdout.readline().strip()
stop(server)
client.stdin.write("go\\n")
client.stdin.flush()
assert client.stdout.readline().startswith("logged")
client.kill()
client.wait()
server = start_server(port)
import notebook_tracker as nt
nt.set_tracking_uri(url)
with nt.start_run():  # the next process: it adopts what the killed one left in its journal
    pass
arrived = len(nt.TrackingClient(url).get_metric_history(run_id, "x"))
stop(server)
print(json.dumps({{"arrived": arrived}}))
"""

ML = {
    "log_metric": """
import mlflow
mlflow.set_tracking_uri(url)
N = {n}
with mlflow.start_run() as run:
    t = time.perf_counter()
    for i in range(N):
        mlflow.log_metric("loss", 0.5, step=i, synchronous={synchronous})
    call_s = time.perf_counter() - t
    mlflow.flush_async_logging()
stop(server)
print(json.dumps({{"per_call_us": call_s / N * 1e6}}))
""",
}


def run(code: str, timeout: float = 1800, **fmt: object) -> dict:
    script = COMMON + textwrap.dedent(code).format(**fmt)
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller workloads (smoke run)")
    args = parser.parse_args()
    q = args.quick
    print(f"# durability benchmarks ({'quick' if q else 'full'}; a local server, SQLite)")

    n = 20_000 if q else 200_000
    r = run(NT["log_metric"], n=n)
    print(
        f"{'log_metric over http:// (server up), CPU':<44} {r['cpu_call_us']:8.3f} us/call   "
        f"list.append {r['cpu_append_us']:.3f} us -> "
        f"{r['cpu_call_us'] / r['cpu_append_us']:.1f}x append (budget 20x; flusher included)"
    )
    print(
        f"{'log_metric over http:// (server up), wall':<44} {r['per_call_us']:8.3f} us/call   "
        f"list.append {r['append_us']:.3f} us -> {r['per_call_us'] / r['append_us']:.1f}x; "
        f"durable after end_run in {r['durable_after_end_s']:.2f} s"
    )
    if HAVE_MLFLOW:
        m = run(ML["log_metric"], n=200 if q else 1000, synchronous=True)
        print(f"{'mlflow.log_metric over http:// (sync)':<44} {m['per_call_us']:8.1f} us/call")
        m = run(ML["log_metric"], n=1000 if q else 5000, synchronous=False)
        print(f"{'mlflow.log_metric over http:// (async)':<44} {m['per_call_us']:8.3f} us/call")

    n = 20_000 if q else 200_000
    r = run(NT["replay"], n=n, null_sink=False)
    print(
        f"{'replay after an outage, to the real server':<44} {r['points_per_s']:10,.0f} points/s "
        f"({n:,} points in {r['replay_s']:.2f} s; journaled at "
        f"{n / r['spill_s']:,.0f} points/s, {r['journal_bytes_per_point']:.0f} bytes/point)"
    )
    k = 10_000
    ours = run(KILLED, tool="nt", n=k)["arrived"]
    theirs = run(KILLED, tool="mlflow", n=k)["arrived"] if HAVE_MLFLOW else None
    print(
        f"{'client SIGKILLed 2 s into an outage':<44} {ours:,} of {k:,} points arrive later"
        + (f";  mlflow (async logging): {theirs:,} of {k:,}" if theirs is not None else "")
    )
    r = run(NT["replay"], n=n, null_sink=True)
    print(
        f"{'replay, client side only (a null server)':<44} {r['points_per_s']:10,.0f} points/s "
        f"({n:,} points in {r['replay_s']:.2f} s)"
    )


if __name__ == "__main__":
    main()
