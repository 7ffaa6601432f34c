"""Runs for the UI tests: small experiments with params, metrics, tags and notes."""

from __future__ import annotations

import nbtrack
from nbtrack.fluent import NOTE_TAG

EVIL = "<img src=x onerror=alert(1)>"


def make_runs(
    client: nbtrack.TrackingClient, n: int = 5, steps: int = 20, experiment: str = "ui"
) -> list[str]:
    """``n`` finished runs named ``run-i`` with params lr/opt, metrics loss/acc, a tag."""
    found = client.get_experiment_by_name(experiment)
    exp = found.experiment_id if found else client.create_experiment(experiment)
    ids = []
    for i in range(n):
        run = client.create_run(exp, run_name=f"run-{i}", start_time=1_700_000_000_000 + i * 1000)
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            params=[("lr", str(0.1 * (i + 1))), ("opt", "adam")],
            tags=[("team", f"t{i % 2}")],
            metrics=[("loss", 1.0 / (s + 1) + i, None, s) for s in range(steps)]
            + [("acc", 0.5 + 0.01 * i, None, 0)],
        )
        client.set_terminated(run_id, end_time=1_700_000_000_000 + i * 1000 + 500 * (i + 1))
        ids.append(run_id)
    return ids


def make_evil_run(client: nbtrack.TrackingClient) -> str:
    """A run whose name, param, tag, note and source tag all hold an HTML payload."""
    exp = client.create_experiment("evil")
    run = client.create_run(exp, run_name=EVIL)
    client.log_batch(
        run.info.run_id,
        params=[("p", EVIL)],
        tags=[("t", EVIL), (NOTE_TAG, EVIL), ("mlflow.source.name", EVIL)],
        metrics=[("m", 1.0, None, 0)],
    )
    client.set_terminated(run.info.run_id)
    return run.info.run_id
