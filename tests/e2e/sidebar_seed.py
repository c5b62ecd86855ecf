"""Runs to look at in the browser, logged through the Python API into a SQLite store."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric, Param, RunTag

NOTEBOOK = "train.ipynb"
TRAIN_CELL_ID = "train-cell"
TRAIN_SOURCE = "model = fit(lr=lr, optimizer=optimizer)\nacc = evaluate(model)\n"


@dataclass
class Seeded:
    uri: str
    sweep_id: str
    other_id: str
    runs: dict[str, str] = field(default_factory=dict)  # run name -> run id
    autolog_id: str = ""
    parent: str = ""  # the "search" run's id; its children are "trial-0".."trial-2"


def _png() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=60)
    ax.plot([0, 1, 2, 3], [0.2, 0.5, 0.7, 0.8])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def write_notebook(root_dir: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("lr, optimizer = 0.01, 'adam'", id="setup-cell"),
        nbformat.v4.new_markdown_cell("## Training", id="md-cell"),
        nbformat.v4.new_code_cell("%%track_run\n" + TRAIN_SOURCE, id=TRAIN_CELL_ID),
        nbformat.v4.new_code_cell("print(acc)", id="print-cell"),
    ]
    nb.cells[2].execution_count = 3
    path = root_dir / NOTEBOOK
    nbformat.write(nb, path)
    return path


def seed(uri: str, root_dir: Path, steps: int = 60) -> Seeded:
    """Experiment "sweep" with five runs over lr and optimizer (a notebook-cell run among
    them), and experiment "baseline" with two runs."""
    client = TrackingClient(uri)
    sweep = client.create_experiment("sweep")
    other = client.create_experiment("baseline")
    out = Seeded(uri, sweep, other)
    write_notebook(root_dir)
    card = nbformat.v4.new_notebook()
    card.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(card, root_dir / "card.ipynb")
    png = _png()
    grid = [("0.1", "sgd"), ("0.01", "adam"), ("0.001", "adam"), ("0.03", "sgd"), ("0.01", "sgd")]
    t0 = 1_700_000_000_000
    for i, (lr, opt) in enumerate(grid):
        name = f"sweep-{i}"
        run = client.create_run(sweep, run_name=name, start_time=t0 + i * 60_000)
        rid = run.info.run_id
        out.runs[name] = rid
        rate = float(lr) * 10 + 0.05 * (i + 1)
        metrics = []
        for s in range(steps):
            loss = 2.0 * math.exp(-rate * s) + 0.01
            metrics.append(Metric("loss", loss, t0 + i * 60_000 + s * 1000, s))
            metrics.append(Metric("acc", 1 - loss / 2.5, t0 + i * 60_000 + s * 1000, s))
        tags = [RunTag("mlflow.source.type", "NOTEBOOK")]
        if i == 1:
            tags += [
                RunTag("notebook_tracker.notebook_path", NOTEBOOK),
                RunTag("notebook_tracker.cell_id", TRAIN_CELL_ID),
                RunTag("notebook_tracker.execution_count", "3"),
            ]
        client.log_batch(
            rid,
            metrics=metrics,
            params=[Param("lr", lr), Param("optimizer", opt), Param("epochs", "60")],
            tags=tags,
        )
        client.log_text(rid, TRAIN_SOURCE, "cell/source.py")
        client.log_bytes(rid, png, "figures/curve.png")
        client.log_text(rid, f"epoch {steps}: done\n", "outputs/stdout.txt")
        client.set_terminated(rid, end_time=t0 + i * 60_000 + steps * 1000)
    for j in range(2):
        name = f"baseline-{j}"
        run = client.create_run(other, run_name=name, start_time=t0 - (j + 1) * 3_600_000)
        out.runs[name] = run.info.run_id
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", 0.5 + j / 10, t0, 0)],
            params=[Param("model", "majority")],
        )
        client.set_terminated(run.info.run_id, end_time=t0 - j * 3_600_000)
    seed_autolog(client, out, t0)
    return out


TRIALS = [("0.1", "linear", 0.81, 0.78), ("1.0", "rbf", 0.93, 0.91), ("10.0", "rbf", 0.9, 0.88)]


def seed_autolog(client: TrackingClient, out: Seeded, t0: int) -> None:
    """Experiment "autolog": a "search" parent run with three child trials, each logging its
    results once (as auto-logged estimators do): single-value metrics, no steps."""
    exp = client.create_experiment("autolog")
    out.autolog_id = exp
    parent = client.create_run(exp, run_name="search", start_time=t0 + 3_600_000)
    out.parent = parent.info.run_id
    out.runs["search"] = out.parent
    client.log_batch(out.parent, params=[Param("cv", "3")])
    for i, (c, kernel, acc, f1) in enumerate(TRIALS):
        name = f"trial-{i}"
        run = client.create_run(
            exp, run_name=name, start_time=t0 + 3_600_000 + i * 1000, parent_run_id=out.parent
        )
        rid = run.info.run_id
        out.runs[name] = rid
        client.log_batch(
            rid,
            metrics=[
                Metric("accuracy", acc, t0 + 3_600_000, 0),
                Metric("f1", f1, t0 + 3_600_000, 0),
            ],
            params=[Param("C", c), Param("kernel", kernel)],
        )
        client.set_terminated(rid, end_time=t0 + 3_600_000 + i * 1000 + 500)
    client.set_terminated(out.parent, end_time=t0 + 3_600_000 + 5000)


MODEL = "doubler"
MODEL_RUNS = {1: "times-2", 2: "times-3"}  # version -> the run it was logged in


def _times(k: float):
    def predict(frame):
        return frame["x"].to_numpy() * k

    return predict


def seed_models(uri: str, workdir: Path) -> None:
    """Registered model "doubler": versions 1 and 2, each logged in a run of experiment
    "models" (the registry takes sources from the store only), alias "champion" on 1."""
    import sys

    import cloudpickle
    import pandas as pd

    import notebook_tracker.models as ntm
    from notebook_tracker.models.registry import RegistryClient

    # The worker process unpickles the function: ship it by value, not as `seed._times`.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    client = TrackingClient(uri)
    registry = RegistryClient(uri)
    exp = client.create_experiment("models")
    example = pd.DataFrame({"x": [1.0]})
    for k in (2, 3):
        path = workdir / f"model-{k}"
        ntm.save_model(_times(k), path, input_example=example)
        run = client.create_run(exp, run_name=f"times-{k}")
        rid = run.info.run_id
        client.log_metric(rid, "factor", float(k))
        client.log_artifacts(rid, str(path), "model")
        client.set_terminated(rid)
        registry.register_model(f"runs:/{rid}/model", MODEL, description=f"Multiplies x by {k}.")
    registry.set_registered_model_alias(MODEL, "champion", 1)
