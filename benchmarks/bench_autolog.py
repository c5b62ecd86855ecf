"""Autologging overhead on a ~1-second scikit-learn fit: notebook-tracker against MLflow.

    python benchmarks/bench_autolog.py [--reps 5] [--rounds 3] [--target 1.0] [--mlflow-reps 2]

The same code and data in every mode: `RandomForestClassifier(n_estimators=N).fit(X, y)` on
synthetic data (4,000 x 20, binary), N chosen so a plain fit takes about `--target` seconds.
Each mode runs in its own process (so no two autologgers patch scikit-learn at once), does one
untimed warm-up fit (first-call imports and database set-up), then `--reps` timed fits; the
modes take turns for `--rounds` rounds and each mode's median fit time is compared with the
plain fit's:

- plain: no autologging;
- nt: `nt.sklearn.autolog()`, each fit starts and ends its own run (SQLite store), as MLflow;
- nt-in-run: the same inside an open run (what a `%%track_run` cell does);
- nt-nomodel: `nt.sklearn.autolog(log_models=False)`;
- mlflow: `mlflow.sklearn.autolog()` with its SQLite store, each fit its own run (its model
  logging infers pip requirements by importing the model in a subprocess: seconds per fit);
- mlflow-nomodel: `mlflow.sklearn.autolog(log_models=False)`.

Every autologging mode logs params and training metrics; all but the -nomodel ones also log the
fitted model with its signature. MLflow's model modes are slow, so they get `--mlflow-reps`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
mode, store, n_estimators, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
X, y = make_classification(4000, 20, n_informative=8, random_state=0)
ctx = None
if mode.startswith("nt"):
    import notebook_tracker as nt
    nt.set_tracking_uri(store)
    nt.sklearn.autolog(log_models=mode != "nt-nomodel")
    if mode == "nt-in-run":
        ctx = nt.start_run()
elif mode == "mlflow":
    import logging
    logging.disable(logging.WARNING)
    import mlflow
    mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")
    mlflow.sklearn.autolog()
elif mode == "mlflow-nomodel":
    import logging
    logging.disable(logging.WARNING)
    import mlflow
    mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")
    mlflow.sklearn.autolog(log_models=False)
def fit():
    RandomForestClassifier(n_estimators=n_estimators, random_state=0, n_jobs=1).fit(X, y)
t = time.perf_counter(); fit(); first = time.perf_counter() - t
times = []
for _ in range(reps):
    t = time.perf_counter(); fit(); times.append(time.perf_counter() - t)
if mode.startswith("mlflow"):
    runs = mlflow.search_runs(output_format="list")
    assert runs and "training_accuracy_score" in runs[0].data.metrics, "mlflow logged nothing"
elif mode.startswith("nt"):
    if ctx is not None:
        nt.end_run()
    runs = nt.search_runs(output_format="list")
    assert runs and "training_accuracy_score" in runs[0].data.metrics, "nt logged nothing"
print(json.dumps({"first": first, "times": times}))
"""

MODES = ("plain", "nt", "nt-in-run", "nt-nomodel", "mlflow", "mlflow-nomodel")


def run_mode(mode: str, n_estimators: int, reps: int) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-autolog-{mode}-") as store:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, mode, store, str(n_estimators), str(reps)],
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def calibrate(target: float) -> int:
    """Trees for a plain fit of about `target` seconds (timed here, in this process)."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_classification(4000, 20, n_informative=8, random_state=0)
    n = 20
    t = time.perf_counter()
    RandomForestClassifier(n_estimators=n, random_state=0, n_jobs=1).fit(X, y)
    per_tree = (time.perf_counter() - t) / n
    return max(5, round(target / per_tree))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--target", type=float, default=1.0)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--mlflow-reps", type=int, default=2)
    args = parser.parse_args()
    modes = args.modes.split(",")
    n = calibrate(args.target)
    print(f"RandomForestClassifier(n_estimators={n}) on 4,000 x 20; {args.rounds} rounds x "
          f"{args.reps} timed fits per mode (after one warm-up fit)")  # fmt: skip
    times: dict[str, list[float]] = {m: [] for m in modes}
    first: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            reps = args.mlflow_reps if mode == "mlflow" else args.reps
            result = run_mode(mode, n, reps)
            times[mode].extend(result["times"])
            first[mode].append(result["first"])
    base = statistics.median(times["plain"]) if "plain" in times else None
    print(f"{'mode':<10} {'median fit':>11} {'overhead':>9} {'first fit':>10}")
    for mode in modes:
        med = statistics.median(times[mode])
        over = f"{(med / base - 1) * 100:+8.1f}%" if base else ""
        print(f"{mode:<10} {med:>10.3f}s {over:>9} {statistics.median(first[mode]):>9.3f}s")


if __name__ == "__main__":
    main()
