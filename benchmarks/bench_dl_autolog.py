"""Overhead of Keras 3 and Lightning autologging on a 10-epoch fit, side by side with MLflow's.

    python benchmarks/bench_dl_autolog.py [--only keras,lightning] [--reps 5] [--quick]

The same model, data and fit call three ways, interleaved rep by rep so that a busy machine
slows each alike: `plain` (no autologging), `ours` (`nt.keras.autolog()` /
`nt.pytorch.autolog()`) and `mlflow` (`mlflow.keras.autolog()` / `mlflow.pytorch.autolog()`),
both with their defaults (per-epoch metrics, params, the model logged when fit returns). No
run is active, so each autologger starts a run and ends it inside the fit call: the timed
span is the whole `fit(...)` call, everything the user waits for. Each tracker writes to its
own SQLite store in a temporary folder. CPU only, torch on one thread (`--threads`), so that
the fit's cost is not a race between its own threads and the machine's other jobs. Printed:
medians of wall time and of CPU time (this process's and its children's: MLflow infers
requirements in a subprocess), the overhead against plain, ours against MLflow's, and the
target (< 2% overhead). On a busy machine trust the CPU columns more than the wall ones.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
warnings.filterwarnings("ignore")

TARGET = 2.0  # percent
EPOCHS = 10
KINDS = ("plain", "ours", "mlflow")


def _setup(folder: Path) -> Any:
    import mlflow

    os.environ["NOTEBOOK_TRACKER_URI"] = f"sqlite:///{folder / 'nt.db'}"
    os.environ["NOTEBOOK_TRACKER_ARTIFACT_ROOT"] = str(folder / "nt-artifacts")
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    mlflow.set_experiment("bench")
    for name in ("mlflow", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return mlflow


def _configure(kind: str, mlflow: Any, framework: str) -> None:
    import notebook_tracker as nt
    from notebook_tracker.frameworks import autolog

    autolog.reset_for_tests()
    mlflow.autolog(disable=True)
    if kind == "ours":
        (nt.keras if framework == "keras" else nt.pytorch).autolog(silent=True)
    elif kind == "mlflow":
        (mlflow.keras if framework == "keras" else mlflow.pytorch).autolog(silent=True)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


Timing = tuple[float, float]  # wall s, CPU s


def keras_fit(rows: int) -> tuple[Callable[[], Timing], str]:
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((rows, 64)).astype("float32")
    y = (x @ rng.random((64, 1)) + 0.1 * rng.standard_normal((rows, 1))).astype("float32")

    def fit() -> Timing:
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(256, activation="relu"),
                keras.layers.Dense(256, activation="relu"),
                keras.layers.Dense(1),
            ]
        )
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
        start, cpu = time.perf_counter(), _cpu()
        model.fit(x, y, epochs=EPOCHS, batch_size=128, validation_split=0.1, verbose=0)
        return time.perf_counter() - start, _cpu() - cpu

    return fit, f"Keras 3 (torch backend), MLP 64-256-256-1, {rows:,} rows, batch 128"


def lightning_fit(rows: int) -> tuple[Callable[[], Timing], str]:
    import lightning.pytorch as L
    import torch

    class Net(L.LightningModule):
        def __init__(self, hidden: int = 256, lr: float = 1e-3) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(64, hidden),
                torch.nn.ReLU(),
                torch.nn.Linear(hidden, hidden),
                torch.nn.ReLU(),
                torch.nn.Linear(hidden, 1),
            )

        def training_step(self, batch: Any, _: int) -> Any:
            xb, yb = batch
            loss = torch.nn.functional.mse_loss(self.net(xb), yb)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    g = torch.Generator().manual_seed(0)
    x = torch.rand(rows, 64, generator=g)
    y = x @ torch.rand(64, 1, generator=g)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=128)
    root = tempfile.mkdtemp(prefix="nt-bench-lightning-")

    def fit() -> Timing:
        torch.manual_seed(0)
        trainer = L.Trainer(
            max_epochs=EPOCHS,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=False,
            default_root_dir=root,
        )
        module = Net()
        start, cpu = time.perf_counter(), _cpu()
        trainer.fit(module, loader)
        return time.perf_counter() - start, _cpu() - cpu

    return fit, f"Lightning, MLP 64-256-256-1, {rows:,} rows, batch 128, step+epoch loss"


Medians = dict[str, dict[str, float]]  # measure ("wall"/"cpu") -> kind -> median s


def run(framework: str, reps: int, rows: int, mlflow: Any) -> Medians:
    fit, label = (keras_fit if framework == "keras" else lightning_fit)(rows)
    for kind in KINDS:  # warm up each path once: imports, first model save, first run
        _configure(kind, mlflow, framework)
        fit()
    times: dict[str, list[Timing]] = {k: [] for k in KINDS}
    for rep in range(reps):
        for kind in KINDS:
            _configure(kind, mlflow, framework)
            times[kind].append(fit())
        print(f"  {framework} rep {rep + 1}/{reps} done", file=sys.stderr, flush=True)
    _configure("plain", mlflow, framework)
    print(f"\n{framework}: {EPOCHS}-epoch fit; {label}")
    print(f"  medians of {reps} interleaved reps, [min-max]")
    medians: Medians = {"wall": {}, "cpu": {}}
    for kind in KINDS:
        walls, cpus = [w for w, _ in times[kind]], [c for _, c in times[kind]]
        medians["wall"][kind], medians["cpu"][kind] = (
            statistics.median(walls),
            statistics.median(cpus),
        )
        print(
            f"    {kind:<7} wall {medians['wall'][kind]:7.3f} s [{min(walls):.3f}-{max(walls):.3f}]"
            f"   CPU {medians['cpu'][kind]:7.3f} s [{min(cpus):.3f}-{max(cpus):.3f}]"
        )
    return medians


def table(results: dict[str, Medians]) -> None:
    print()
    header = (
        f"{'fit':<10} {'measure':<7} {'plain s':>8} {'ours s':>8} {'ours +%':>8} "
        f"{'mlflow s':>9} {'mlflow +%':>9} {'ours/mlflow':>11} {'target':>7}  met"
    )
    print(header)
    print("-" * len(header))
    for framework, by_measure in results.items():
        for measure, m in by_measure.items():
            ours = 100 * (m["ours"] - m["plain"]) / m["plain"]
            theirs = 100 * (m["mlflow"] - m["plain"]) / m["plain"]
            ratio = m["ours"] / m["mlflow"]
            met = "yes" if ours < TARGET else "NO"
            print(
                f"{framework:<10} {measure:<7} {m['plain']:8.3f} {m['ours']:8.3f} {ours:+7.1f}% "
                f"{m['mlflow']:9.3f} {theirs:+8.1f}% {ratio:11.2f} {'< 2%':>7}  {met}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="keras,lightning", help="keras, lightning or both")
    parser.add_argument("--reps", type=int, default=5, help="interleaved repetitions")
    parser.add_argument("--rows", type=int, default=10_000, help="training rows (epoch length)")
    parser.add_argument("--threads", type=int, default=1, help="torch's intra-op threads")
    parser.add_argument("--quick", action="store_true", help="2 reps of a smaller fit")
    args = parser.parse_args()
    reps, rows = (2, 4_000) if args.quick else (args.reps, args.rows)
    chosen = [f for f in ("keras", "lightning") if f in args.only.split(",")]
    import torch

    torch.set_num_threads(args.threads)
    results: dict[str, Medians] = {}
    with tempfile.TemporaryDirectory(prefix="nt-bench-dl-") as tmp:
        mlflow = _setup(Path(tmp))
        for framework in chosen:
            results[framework] = run(framework, reps, rows, mlflow)
    print(f"\n(torch threads: {args.threads}; load average at the end: {os.getloadavg()[0]:.1f})")
    table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
