"""PyTorch Lightning autolog: hyperparameters, step and epoch metrics, early stopping, model."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nbtrack
from nbtrack.autologging import _core

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")


class TinyRegressor(pl.LightningModule):  # type: ignore[misc]
    """A linear model on random data; importable, so its class path is loadable."""

    def __init__(self, hidden: int = 8, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )

    def forward(self, x: Any) -> Any:
        return self.net(x)

    def training_step(self, batch: Any, _index: int) -> Any:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, _index: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self(x), y))

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)


def _loaders() -> tuple[Any, Any]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=generator)
    y = x.sum(dim=1, keepdim=True)
    data = torch.utils.data.TensorDataset(x, y)
    return (
        torch.utils.data.DataLoader(data, batch_size=16),
        torch.utils.data.DataLoader(data, batch_size=32),
    )


def _trainer(tmp_path: Path, epochs: int, **kwargs: Any) -> Any:
    return pl.Trainer(
        max_epochs=epochs,
        default_root_dir=tmp_path,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
        **kwargs,
    )


@pytest.fixture
def autolog() -> Iterator[None]:
    nbtrack.pytorch.autolog()
    yield
    nbtrack.pytorch.autolog(disable=True)
    _core._reported.clear()


@pytest.mark.slow
def test_fit_logs_hparams_metrics_early_stopping_and_the_best_checkpoint(
    autolog: None, tmp_path: Path, client: nbtrack.TrackingClient
) -> None:
    train, val = _loaders()
    model = TinyRegressor(hidden=8, lr=0.05)
    stop = pl.callbacks.EarlyStopping(monitor="val_loss", patience=2, mode="min")
    keep = pl.callbacks.ModelCheckpoint(monitor="val_loss", mode="min")
    trainer = _trainer(tmp_path, 6, callbacks=[stop, keep])
    with nbtrack.start_run() as run:
        trainer.fit(model, train, val)
    run_id = run.info.run_id
    data = client.get_run(run_id).data
    assert data.params["hidden"] == "8"
    assert data.params["lr"] == "0.05"
    assert data.params["epochs"] == "6"
    assert data.params["optimizer_name"] == "SGD"
    assert data.params["momentum"] == "0.9"
    assert data.params["monitor"] == "val_loss"
    assert data.params["patience"] == "2"
    assert "stopped_epoch" in data.metrics
    steps = client.get_metric_history(run_id, "train_loss_step")
    epochs = client.get_metric_history(run_id, "train_loss_epoch")
    assert len(steps) == trainer.global_step  # 4 batches per epoch, every step
    assert len(epochs) == trainer.current_epoch
    assert len(client.get_metric_history(run_id, "val_loss")) == trainer.current_epoch
    assert trainer.loggers == []  # nbtrack's logger was only there during fit
    loaded = nbtrack.pytorch.load_model(f"runs:/{run_id}/model")
    best = torch.load(keep.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, best[name])
    assert data.tags["nbtrack.model.checkpoint"] == keep.best_model_path


@pytest.mark.slow
def test_a_failing_log_leaves_lightning_training_alone(
    autolog: None,
    tmp_path: Path,
    client: nbtrack.TrackingClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    train, val = _loaders()
    torch.manual_seed(0)
    model = TinyRegressor()
    run = nbtrack.start_run()
    client.delete_run(run.info.run_id)
    with caplog.at_level(logging.WARNING, "nbtrack.autolog"):
        trainer = _trainer(tmp_path, 2)
        trainer.fit(model, train, val)
    assert trainer.current_epoch == 2
    assert any("deleted" in r.getMessage() for r in caplog.records)
    nbtrack.end_run()
