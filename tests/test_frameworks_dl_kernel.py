"""Lightning and Keras autologging inside `%%track_run` cells of a real kernel (nbclient):
on by default, logging into the cell's run; `--no-autolog` turns it off for a cell."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("lightning")
os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("keras")
nbformat = pytest.importorskip("nbformat")
from helpers import execute_in_kernel  # noqa: E402

from notebook_tracker.client import TrackingClient  # noqa: E402
from notebook_tracker.entities import ViewType  # noqa: E402

SETUP = """\
import os, warnings
os.environ['KERAS_BACKEND'] = 'torch'
warnings.simplefilter('ignore')
%load_ext notebook_tracker
import numpy as np, torch, keras
import lightning.pytorch as L

class Net(L.LightningModule):
    def __init__(self, lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(2, 1)
    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log('loss', loss, on_step=False, on_epoch=True)
        return loss
    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

x = torch.rand(16, 2)
pairs = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
data = torch.utils.data.DataLoader(pairs, batch_size=8)
X = np.random.default_rng(0).random((32, 3)).astype('float32')
Y = X.sum(axis=1, keepdims=True)
def keras_model():
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    m.compile(optimizer='sgd', loss='mse')
    return m
"""
TRAINER = (
    "L.Trainer(max_epochs=2, logger=False, enable_progress_bar=False, enable_checkpointing=False)"
)
CELLS = [
    SETUP,
    f"%%track_run lightning_cell\ntrainer = {TRAINER}\ntrainer.fit(Net(), data)",
    "%%track_run keras_cell\nhistory = keras_model().fit(X, Y, epochs=3, verbose=0)",
    "%%track_run --no-autolog keras_off\nhistory = keras_model().fit(X, Y, epochs=3, verbose=0)",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("dl-kernel")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    uri = f"sqlite:///{folder / 'tracker.db'}"
    execute_in_kernel(nb, folder, uri, timeout=300)
    client = TrackingClient(uri)
    found = client.search_runs(
        [e.experiment_id for e in client.search_experiments(ViewType.ALL)], max_results=100
    )
    return client, {r.info.run_name: r for r in found}


def test_a_lightning_fit_in_a_tracked_cell_logs_into_the_cells_run(runs):
    client, by_name = runs
    run = by_name["lightning_cell"]
    assert run.data.params["lr"] == "0.1" and run.data.params["optimizer_name"] == "Adam"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [1, 3]
    assert "model" in {a.path for a in client.list_artifacts(run.info.run_id)}
    assert len(by_name) == 3  # no extra run started by autologging


def test_a_keras_fit_in_a_tracked_cell_logs_epochs_and_the_model(runs):
    client, by_name = runs
    run = by_name["keras_cell"]
    assert run.data.params["epochs"] == "3" and run.data.params["opt_name"] == "SGD"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [0, 1, 2]
    assert {"model", "model_summary.txt"} <= {
        a.path for a in client.list_artifacts(run.info.run_id)
    }


def test_no_autolog_leaves_the_fit_unlogged(runs):
    client, by_name = runs
    run = by_name["keras_off"]
    assert "opt_name" not in run.data.params
    assert client.get_metric_history(run.info.run_id, "loss") == []
