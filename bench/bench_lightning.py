"""What Lightning autolog adds to an epoch (goal: <= 2%).

Usage::

    python bench/bench_lightning.py            # 5 repetitions of 3 epochs each way
    python bench/bench_lightning.py --quick    # 2 repetitions

One process, a store in a fresh temp directory. A small MLP (32 -> 64 -> 1) on
4,096 random rows, batches of 32 (128 steps per epoch), ``self.log`` of the
loss on every step and epoch, CPU; with Lightning's default
``log_every_n_steps=50`` (the goal's case) and with ``log_every_n_steps=1`` (every
step handed to the loggers: the worst case). ``Trainer.fit`` for 3 epochs inside an active run, with
and without ``nbtrack.pytorch.autolog(log_models=False)``, alternating; the
figure is the median CPU time per epoch (``time.process_time``, all threads).
The model logged at the end of a fit (once, not per epoch) is timed on its own.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import lightning.pytorch as pl
import torch

import nbtrack

EPOCHS = 3


class Mlp(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)
        )

    def training_step(self, batch: Any, _index: int) -> Any:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def epoch_time(loader: Any, root: Path, every: int) -> float:
    trainer = pl.Trainer(
        max_epochs=EPOCHS, default_root_dir=root, logger=False, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False, log_every_n_steps=every,
    )  # fmt: skip
    start = time.process_time()  # CPU of this process (the writer thread's too): less
    trainer.fit(Mlp(), loader)  # sensitive than wall time to other work on a shared machine
    return (time.process_time() - start) / EPOCHS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    reps = 2 if args.quick else 7
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    x = torch.randn(4096, 32)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=32
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        nbtrack.set_tracking_uri(root / ".nbtrack")
        with nbtrack.start_run():
            epoch_time(loader, root, 50)  # warm-up
            for every in (50, 1):
                base, logged = [], []
                for _ in range(reps):
                    nbtrack.pytorch.autolog(disable=True)
                    base.append(epoch_time(loader, root, every))
                    nbtrack.pytorch.autolog(log_models=False)
                    logged.append(epoch_time(loader, root, every))
                nbtrack.pytorch.autolog(disable=True)
                b, a = statistics.median(base), statistics.median(logged)
                added = (a - b) / b * 100
                what = "Lightning's default" if every == 50 else "every step (worst case)"
                verdict = ("PASS" if added <= 2 else "MISS") if every == 50 else ""
                print(
                    f"log_every_n_steps={every} ({what}): epoch of 128 steps {b * 1e3:.0f} ms "
                    f"CPU without autolog, {a * 1e3:.0f} ms with: {added:+.1f}% "
                    f"(goal <= 2%) {verdict}"
                )
            start = time.perf_counter()
            nbtrack.pytorch.log_model(Mlp(), "model_timed", serialization="pickle")
            model_time = time.perf_counter() - start
        print(f"logging the model at the end of a fit (once): {model_time * 1e3:.0f} ms")
        nbtrack.set_tracking_uri(None)


if __name__ == "__main__":
    main()
