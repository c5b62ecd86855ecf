"""PyTorch Lightning autologging through the fluent API, on real fits of tiny synthetic data."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")

import notebook_tracker as nt  # noqa: E402
from notebook_tracker.client import TrackingClient  # noqa: E402
from notebook_tracker.frameworks import autolog, dl_common, patching  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_autolog():
    autolog.reset_for_tests()
    yield
    autolog.reset_for_tests()


class Regressor(L.LightningModule):
    def __init__(self, lr: float = 0.05, hidden: int = 4) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(2, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.net(x)

    def training_step(self, batch, _):  # type: ignore[no-untyped-def]
        x, y = batch
        loss = torch.nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, _):  # type: ignore[no-untyped-def]
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self(x), y))

    def configure_optimizers(self):  # type: ignore[no-untyped-def]
        opt = torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.5)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        return {"optimizer": opt, "lr_scheduler": sched}


def _loaders():  # type: ignore[no-untyped-def]
    g = torch.Generator().manual_seed(0)
    x = torch.rand(32, 2, generator=g)
    y = x.sum(dim=1, keepdim=True)
    data = torch.utils.data.TensorDataset(x, y)
    return (
        torch.utils.data.DataLoader(data, batch_size=8),
        torch.utils.data.DataLoader(data, batch_size=16),
    )


def _trainer(tmp_path, **kwargs):  # type: ignore[no-untyped-def]
    options = dict(
        max_epochs=3,
        log_every_n_steps=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
    )
    options.update(kwargs)
    return L.Trainer(**options)


def _fit(tmp_path, **kwargs):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = Regressor()
    train, val = _loaders()
    trainer = _trainer(tmp_path, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on num_workers etc.
        warnings.simplefilter("always", patching.AutologWarning)
        trainer.fit(model, train, val)
    return model, trainer


def test_a_fit_logs_hyperparameters_optimizer_scheduler_and_every_logged_metric(
    tracking_uri, tmp_path
):
    nt.pytorch.autolog()
    model, trainer = _fit(tmp_path)
    run = nt.last_active_run()
    params = run.data.params
    assert params["lr"] == "0.05" and params["hidden"] == "4"
    assert params["epochs"] == "3"
    assert params["optimizer_name"] == "SGD" and params["momentum"] == "0.5"
    assert params["scheduler_name"] == "StepLR" and params["scheduler.step_size"] == "2"
    client = TrackingClient(tracking_uri)
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "train_loss_step")]
    assert steps == list(range(trainer.global_step))  # 4 batches x 3 epochs, every step
    epochs = client.get_metric_history(run.info.run_id, "train_loss_epoch")
    assert len(epochs) == 3
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == 3
    assert run.info.status == "FINISHED"


def test_the_best_checkpoint_is_logged_as_a_pytorch_model_not_the_last_weights(
    tracking_uri, tmp_path
):
    checkpoint = L.callbacks.ModelCheckpoint(monitor="val_loss", mode="max", save_top_k=1)
    nt.pytorch.autolog()
    model, trainer = _fit(tmp_path, callbacks=[checkpoint], max_epochs=4)
    run = nt.last_active_run()
    logged = nt.pytorch.load_model(f"runs:/{run.info.run_id}/model")
    best = torch.load(checkpoint.best_model_path, weights_only=False)["state_dict"]
    for key, value in logged.state_dict().items():
        assert torch.equal(value, best[key])
    assert run.data.metrics["best_model_score"] == pytest.approx(float(checkpoint.best_model_score))
    # The user's checkpoints stay where Lightning puts them without a logger.
    assert checkpoint.best_model_path.startswith(str(tmp_path / "checkpoints"))
    # The user's module keeps its own (last) weights.
    assert any(not torch.equal(v, best[k]) for k, v in model.state_dict().items())


def test_a_failure_while_logging_leaves_training_untouched(tracking_uri, tmp_path, monkeypatch):
    plain_model, _ = _fit(tmp_path / "plain")

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("store unreachable")

    monkeypatch.setattr(dl_common, "log_metrics", broken)
    nt.pytorch.autolog(log_models=False)
    with pytest.warns(patching.AutologWarning, match="store unreachable"):
        logged_model, trainer = _fit(tmp_path / "logged")
    assert trainer.state.finished
    for key, value in plain_model.state_dict().items():
        assert torch.equal(value, logged_model.state_dict()[key])


def test_inside_a_users_run_the_fit_logs_there_and_leaves_the_run_open(tracking_uri, tmp_path):
    nt.pytorch.autolog(log_models=False)
    with nt.start_run() as run:
        _fit(tmp_path, max_epochs=1)
        assert nt.active_run().info.run_id == run.info.run_id
    assert "optimizer_name" in nt.get_run(run.info.run_id).data.params


def test_disabled_autolog_logs_nothing_and_creates_no_run(tracking_uri, tmp_path):
    nt.pytorch.autolog(disable=True)
    _fit(tmp_path, max_epochs=1)
    assert nt.last_active_run() is None


def test_the_model_is_written_after_fit_returns_with_the_weights_fit_left(tracking_uri, tmp_path):
    import threading

    from notebook_tracker import run_jobs

    nt.pytorch.autolog()
    release = threading.Event()
    run_jobs.submit("another-run", release.wait)  # the worker is busy until released
    try:
        model, _ = _fit(tmp_path, max_epochs=2, enable_checkpointing=False)
        fitted = {k: v.clone() for k, v in model.state_dict().items()}
        with torch.no_grad():  # the user moves on at once
            for parameter in model.parameters():
                parameter.zero_()
    finally:
        release.set()
    run_id = nt.last_active_run().info.run_id  # a read: waits for the run's writes
    logged = nt.pytorch.load_model(f"runs:/{run_id}/model")
    for key, value in logged.state_dict().items():
        assert torch.equal(value, fitted[key])
    assert TrackingClient(tracking_uri).get_run(run_id).info.status == "FINISHED"
