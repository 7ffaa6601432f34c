"""The ``nbtrack demo`` job: a small regression trained at a few learning rates, tracked.

Synthetic data (numpy, seeded) so it runs anywhere with no download.
"""

from __future__ import annotations

import json

from nbtrack.client import TrackingClient
from nbtrack.entities import RunStatus

LEARNING_RATES = (0.3, 0.1, 0.03, 0.01, 0.003, 0.001)
EPOCHS = 30


def run_demo(client: TrackingClient, experiment: str, n_runs: int) -> list[str]:
    """Log ``n_runs`` runs of gradient descent on a linear model; returns their ids."""
    import numpy as np

    if n_runs < 1:
        raise ValueError("the demo needs at least one run")
    exp = client.get_experiment_by_name(experiment)
    experiment_id = exp.experiment_id if exp else client.create_experiment(experiment)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 5))
    true_weights = np.array([1.5, -2.0, 0.7, 0.0, 3.1])
    target = features @ true_weights + rng.normal(scale=0.5, size=400)
    train_x, val_x, train_y, val_y = features[:300], features[300:], target[:300], target[300:]
    run_ids = []
    for i in range(n_runs):
        lr = LEARNING_RATES[i % len(LEARNING_RATES)]
        run = client.create_run(experiment_id, run_name=f"linreg-lr{lr}", tags={"model": "linear"})
        run_id = run.info.run_id
        client.log_batch(run_id, params=[("lr", lr), ("epochs", EPOCHS), ("features", 5)])
        weights = np.zeros(5)
        for epoch in range(EPOCHS):
            gradient = 2 * train_x.T @ (train_x @ weights - train_y) / len(train_y)
            weights -= lr * gradient
            loss = float(np.mean((train_x @ weights - train_y) ** 2))
            val_loss = float(np.mean((val_x @ weights - val_y) ** 2))
            client.log_batch(
                run_id, metrics=[("loss", loss, None, epoch), ("val_loss", val_loss, None, epoch)]
            )
        client.log_text(
            run_id, json.dumps({"weights": weights.round(4).tolist()}), "model/weights.json"
        )
        client.set_terminated(run_id, RunStatus.FINISHED)
        run_ids.append(run_id)
    return run_ids
