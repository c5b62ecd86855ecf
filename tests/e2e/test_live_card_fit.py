"""The live run card during a deep-learning fit, as a person watches it in JupyterLab.

A `%%track_run` cell trains a Keras model (torch backend) and a Lightning model for 5 epochs,
each epoch slowed to ~1 s by a callback, with no logging code of their own: framework
autologging is on inside tracked cells. While the cell is still running, the card must show
the epoch loss with a point count that grows; when it ends, the final values and all epochs.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from lab_process import JupyterLab, screenshot
from test_sidebar import assert_no_console_errors

EPOCHS = 5
SETUP = (
    "import os\n"
    "os.environ.setdefault('KERAS_BACKEND', 'torch')\n"
    "%load_ext notebook_tracker\n"
    "import time\n"
    "import numpy as np"
)
KERAS_CELL = f"""%%track_run keras-live-fit
import keras
keras.utils.set_random_seed(0)
x = np.random.default_rng(0).random((512, 8)).astype("float32")
y = x.sum(axis=1, keepdims=True)
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
slow = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: time.sleep(1.0))
model.fit(x, y, epochs={EPOCHS}, batch_size=64, verbose=0, callbacks=[slow])"""
LIGHTNING_CELL = f"""%%track_run lightning-live-fit
import logging
import torch
import lightning.pytorch as L
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

class Net(L.LightningModule):
    def __init__(self, lr=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Linear(8, 1)

    def training_step(self, batch, _):
        xb, yb = batch
        loss = torch.nn.functional.mse_loss(self.net(xb), yb)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def on_train_epoch_end(self):
        time.sleep(1.0)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

xt = torch.rand(256, 8, generator=torch.Generator().manual_seed(0))
data = torch.utils.data.TensorDataset(xt, xt.sum(dim=1, keepdim=True))
trainer = L.Trainer(max_epochs={EPOCHS}, logger=False, enable_progress_bar=False,
                    enable_model_summary=False, enable_checkpointing=False)
trainer.fit(Net(), torch.utils.data.DataLoader(data, batch_size=64))"""

KERNEL_IDLE = """() => {
    const kernel = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""


def write_notebook(root: Path) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (SETUP, KERAS_CELL, LIGHTNING_CELL)]
    nbformat.write(nb, root / "livefit.ipynb")
    return "livefit.ipynb"


def points(text: str) -> int:
    """The point count the card shows next to a metric ("0.123 (3 pts)"), 1 when none."""
    found = re.search(r"\((\d+) pts\)", text)
    return int(found.group(1)) if found else 1


def watch_fit(page, cell_index: int, metric: str, name: str) -> None:
    """Run cell `cell_index`, and check its card while the fit runs and after."""
    cell = page.locator(".jp-NotebookPanel .jp-Cell").nth(cell_index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    card = cell.locator(".nt-run-card")
    row = card.locator(f".ntc-metric[data-key='{metric}']")
    row.wait_for(timeout=60_000)  # the first epoch ended: its loss is on the live card
    seen = []
    while card.get_attribute("data-status") == "RUNNING":
        seen.append(points(row.inner_text()))
        if seen[-1] >= 2 and seen.count(seen[-1]) == 1 and min(seen) < seen[-1]:
            card.scroll_into_view_if_needed()  # mid-fit, a curve already drawn
            screenshot(page, f"live-fit-{name}-running")
        page.wait_for_timeout(300)
    # Seen while running: the card already had the loss, and more epochs as the fit went on.
    assert len(seen) >= 3, f"the fit ended before the card was seen live ({seen})"
    assert max(seen) > min(seen), f"the epoch count on the live card did not grow: {seen}"
    assert min(seen) < EPOCHS
    final = cell.locator(".nt-run-card[data-status='FINISHED']")
    final.wait_for(timeout=60_000)
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    text = final.locator(f".ntc-metric[data-key='{metric}']").inner_text()
    assert points(text) == EPOCHS, text
    assert re.search(r"\d\.\d", text), f"no final value shown: {text}"
    final.scroll_into_view_if_needed()
    screenshot(page, f"live-fit-{name}-finished")


def test_the_run_card_shows_epoch_losses_while_a_keras_and_a_lightning_fit_run(
    blank_page, cards_lab: JupyterLab
) -> None:
    pytest.importorskip("keras")
    pytest.importorskip("lightning")
    page, lab = blank_page, cards_lab
    name = write_notebook(lab.root_dir)
    page.goto(f"{lab.base_url}lab/workspaces/livefit/tree/{name}?reset&token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    setup = page.locator(".jp-NotebookPanel .jp-Cell").nth(0)
    setup.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    watch_fit(page, 1, "loss", "keras")
    watch_fit(page, 2, "train_loss", "lightning")
    assert_no_console_errors(page)
