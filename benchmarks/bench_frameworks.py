"""Deep-learning and Spark integrations, side by side with MLflow 3 on the same code and data.

    python benchmarks/bench_frameworks.py [--only keras,lightning,torchsave,udf] [--reps 3]

- keras: a 10-epoch Keras 3 (torch backend) fit, plain vs `nt.keras.autolog()` vs
  `mlflow.keras.autolog()`; overhead = median extra wall time of the fit call (target < 2%).
  With models logged (the default) and without (`log_models=False`).
- lightning: the same for a 10-epoch Lightning fit (`nt.pytorch.autolog()` vs MLflow's).
- torchsave: logging a 100 MB PyTorch model (`nt.pytorch.log_model`) against a plain
  `torch.save` of it (target < 2x), and `mlflow.pytorch.log_model` (pickle format).
- udf: `nt.pyfunc.spark_udf` against `mlflow.pyfunc.spark_udf` scoring one scikit-learn
  model over the same cached DataFrame, in rows/s (target: at least MLflow's).

Each tracker writes to its own SQLite store in a temporary folder. Repetitions are
interleaved so that a busy machine slows every contender alike; medians are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
warnings.filterwarnings("ignore")


def _setup_stores(folder: Path) -> Any:
    import mlflow

    os.environ["NOTEBOOK_TRACKER_URI"] = f"sqlite:///{folder / 'nt.db'}"
    os.environ["NOTEBOOK_TRACKER_ARTIFACT_ROOT"] = str(folder / "nt-artifacts")
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    mlflow.set_experiment("bench")
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    return mlflow


KINDS = ["plain", "nt", "mlflow", "nt (no models)", "mlflow (no models)"]


def _median(xs: list[float]) -> float:
    return statistics.median(xs)


def _overhead(name: str, times: dict[str, list[tuple[float, float]]]) -> None:
    """Wall time, and this process's CPU time (what other processes on a busy machine
    do not inflate)."""
    wall = {k: _median([w for w, _ in v]) for k, v in times.items()}
    cpu = {k: _median([c for _, c in v]) for k, v in times.items()}
    print(
        f"  plain fit: wall {wall['plain']:.3f} s, CPU {cpu['plain']:.3f} s "
        f"(medians of {len(times['plain'])})"
    )
    for key in times:
        if key == "plain":
            continue
        dw = 100 * (wall[key] - wall["plain"]) / wall["plain"]
        dc = 100 * (cpu[key] - cpu["plain"]) / cpu["plain"]
        print(f"  {key:<22} wall {wall[key]:.3f} s ({dw:+.1f}%)  CPU {cpu[key]:.3f} s ({dc:+.1f}%)")


def bench_keras(reps: int, mlflow: Any, rows: int) -> None:
    import keras
    import numpy as np

    import notebook_tracker as nt
    from notebook_tracker.frameworks import autolog

    rng = np.random.default_rng(0)
    x = rng.random((rows, 32)).astype("float32")
    y = x @ rng.random((32, 1)).astype("float32")

    def fit() -> tuple[float, float]:
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((32,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(1)]
        )
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
        t, c = time.perf_counter(), time.process_time()
        model.fit(x, y, epochs=10, batch_size=256, validation_split=0.1, verbose=0)
        return time.perf_counter() - t, time.process_time() - c

    def configure(which: str) -> None:
        autolog.reset_for_tests()
        mlflow.autolog(disable=True)
        if which.startswith("nt"):
            nt.keras.autolog(log_models="no models" not in which, silent=True)
        elif which.startswith("mlflow"):
            mlflow.keras.autolog(log_models="no models" not in which, silent=True)

    kinds = KINDS
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    fit()  # warm up torch and keras
    for _ in range(reps):
        for kind in kinds:
            configure(kind)
            times[kind].append(fit())
    configure("plain")
    print(f"keras: 10-epoch fit, {rows:,} x 32, batch 256")
    _overhead("keras", times)


def bench_lightning(reps: int, mlflow: Any, rows: int) -> None:
    import lightning.pytorch as L
    import torch

    import notebook_tracker as nt
    from notebook_tracker.frameworks import autolog

    class Net(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)
            )

        def training_step(self, batch: Any, _: int) -> Any:
            xb, yb = batch
            loss = torch.nn.functional.mse_loss(self.net(xb), yb)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    g = torch.Generator().manual_seed(0)
    x = torch.rand(rows, 32, generator=g)
    y = x @ torch.rand(32, 1, generator=g)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=256)
    root = tempfile.mkdtemp()

    def fit() -> tuple[float, float]:
        torch.manual_seed(0)
        trainer = L.Trainer(
            max_epochs=10,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=False,
            default_root_dir=root,
        )
        t, c = time.perf_counter(), time.process_time()
        trainer.fit(Net(), loader)
        return time.perf_counter() - t, time.process_time() - c

    def configure(which: str) -> None:
        autolog.reset_for_tests()
        mlflow.autolog(disable=True)
        if which.startswith("nt"):
            nt.pytorch.autolog(log_models="no models" not in which, silent=True)
        elif which.startswith("mlflow"):
            mlflow.pytorch.autolog(log_models="no models" not in which, silent=True)

    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    kinds = KINDS
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    fit()
    for _ in range(reps):
        for kind in kinds:
            configure(kind)
            times[kind].append(fit())
    configure("plain")
    print(f"lightning: 10-epoch fit, {rows:,} x 32, batch 256 (step and epoch loss)")
    _overhead("lightning", times)


def bench_torchsave(reps: int, mlflow: Any, folder: Path) -> None:
    import torch

    import notebook_tracker as nt

    model = torch.nn.Sequential(*[torch.nn.Linear(2500, 2500) for _ in range(4)])  # 100 MB
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    times: dict[str, list[float]] = {"torch.save": [], "nt.pytorch.log_model": [], "mlflow": []}
    for i in range(reps):
        t = time.perf_counter()
        torch.save(model, folder / f"plain-{i}.pth")
        times["torch.save"].append(time.perf_counter() - t)
        with nt.start_run():
            t = time.perf_counter()
            nt.pytorch.log_model(model, name="model")
            times["nt.pytorch.log_model"].append(time.perf_counter() - t)
        with mlflow.start_run():
            t = time.perf_counter()
            mlflow.pytorch.log_model(model, name="model", serialization_format="pickle")
            times["mlflow"].append(time.perf_counter() - t)
        (folder / f"plain-{i}.pth").unlink()
    base = _median(times["torch.save"])
    print(f"torchsave: a {size / 1e6:.0f} MB model")
    for key, values in times.items():
        m = _median(values)
        print(f"  {key:<24} {m:.2f} s  ({m / base:.2f}x torch.save)")


def bench_udf(reps: int, mlflow: Any) -> None:
    import numpy as np
    import pandas as pd
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from sklearn.ensemble import RandomForestRegressor

    import notebook_tracker as nt

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "1g")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    rng = np.random.default_rng(0)
    cols = [f"f{i}" for i in range(8)]
    train = pd.DataFrame(rng.random((2000, 8)), columns=cols)
    model = RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0)
    model.fit(train, train.sum(axis=1))
    with nt.start_run():
        ours = nt.models.log_model(model, "model", input_example=train.head(3)).model_uri
    with mlflow.start_run():
        theirs = mlflow.sklearn.log_model(
            model, name="model", input_example=train.head(3), serialization_format="cloudpickle"
        ).model_uri
    rows = 400_000
    frame = spark.createDataFrame(pd.DataFrame(rng.random((rows, 8)), columns=cols)).repartition(4)
    frame = frame.cache()
    frame.count()
    udfs = {
        "nt.pyfunc.spark_udf": nt.pyfunc.spark_udf(spark, ours, result_type="double"),
        "mlflow.pyfunc.spark_udf": mlflow.pyfunc.spark_udf(
            spark, theirs, result_type="double", env_manager="local"
        ),
    }
    times: dict[str, list[float]] = {k: [] for k in udfs}
    for udf in udfs.values():  # warm up: ship and load the model on the workers
        frame.limit(1000).select(F.sum(udf(*cols))).collect()
    for _ in range(reps):
        for name, udf in udfs.items():
            t = time.perf_counter()
            frame.select(F.sum(udf(*cols))).collect()
            times[name].append(time.perf_counter() - t)
    print(f"udf: a 20-tree random forest over {rows:,} rows x 8 columns, local[2]")
    for name, values in times.items():
        m = _median(values)
        print(f"  {name:<26} {m:.2f} s  {rows / m:,.0f} rows/s")
    spark.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="keras,lightning,torchsave,udf")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--kinds", default=",".join(KINDS), help="fit variants to time")
    parser.add_argument("--rows", type=int, default=20_000, help="training rows (fit length)")
    args = parser.parse_args()
    chosen = set(args.only.split(","))
    KINDS[:] = ["plain", *[k for k in args.kinds.split(",") if k != "plain"]]
    with tempfile.TemporaryDirectory(prefix="nt-bench-frameworks-") as tmp:
        folder = Path(tmp)
        mlflow = _setup_stores(folder)
        if "keras" in chosen:
            bench_keras(args.reps, mlflow, args.rows)
        if "lightning" in chosen:
            bench_lightning(args.reps, mlflow, args.rows)
        if "torchsave" in chosen:
            bench_torchsave(args.reps, mlflow, folder)
        if "udf" in chosen:
            bench_udf(args.reps, mlflow)
    return 0


if __name__ == "__main__":
    sys.exit(main())
