"""The store's read side (nbtrack.store.queries) against the entity reads it stands beside."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nbtrack
from nbtrack.exceptions import FilterSyntaxError, NotFoundError
from nbtrack.store.queries import SeriesCache


def _fill(client: nbtrack.TrackingClient, n: int) -> list[str]:
    """``n`` runs (some children of run 0, one with a NaN and an infinite metric)."""
    exp = client.create_experiment("q")
    ids: list[str] = []
    for i in range(n):
        parent = ids[0] if i % 4 == 3 else None
        run = client.create_run(exp, run_name=f"r{i}", start_time=1_000 + i, parent_run_id=parent)
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            metrics=[("loss", 1.0 / (i + 1), 5, 0), ("acc", (i * 37) % 11 / 10, 5, 0)],
            params=[("lr", str(i % 3)), ("seed", str(i))],
            tags=[("team", "ab"[i % 2])],
        )
        if i == 2:
            client.log_metric(run_id, "odd", math.nan)
            client.log_metric(run_id, "big", math.inf)
        client.set_terminated(run_id, end_time=2_000 + 10 * i)
        ids.append(run_id)
    client.flush()
    return ids


def _expected(client: nbtrack.TrackingClient, run_id: str) -> dict[str, object]:
    run = client.get_run(run_id)
    return {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "experiment_id": run.info.experiment_id,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "lifecycle_stage": run.info.lifecycle_stage,
        "parent_run_id": run.info.parent_run_id,
        "params": run.data.params,
        "metrics": {k: None if math.isnan(v) else v for k, v in run.data.metrics.items()},
        "tags": run.data.tags,
    }


@pytest.mark.parametrize(
    "order_by", [[], ["metrics.acc DESC"], ["params.seed ASC"], ["attributes.run_name"]]
)
def test_run_summaries_equal_the_runs_they_summarize(
    client: nbtrack.TrackingClient, order_by: list[str]
) -> None:
    ids = _fill(client, 23)
    # A dataset input is stored as a hidden tag: a summary leaves it out, as Run does.
    client.log_inputs(ids[5], [(nbtrack.data.from_numpy(np.zeros(3), name="d"), "train", None)])
    experiment = client.get_experiment_by_name("q")
    assert experiment is not None
    expected = client.search_runs([experiment.experiment_id], order_by=order_by, max_results=1000)
    pages, offset = [], 0
    while True:  # pages of 5: ranges of consecutive keys and scattered ones alike
        page = client.queries.run_summaries(None, None, order_by, "active", 5, offset)
        pages += page.runs
        offset += len(page.runs)
        if not page.more:
            break
    assert [s.run_id for s in pages] == [r.info.run_id for r in expected]
    for summary in pages:
        assert summary._asdict() == _expected(client, summary.run_id)
    odd = next(s for s in pages if s.run_name == "r2")
    assert odd.metrics["odd"] is None
    assert odd.metrics["big"] == math.inf
    assert odd.metrics["loss"] == pytest.approx(1 / 3)
    assert next(s for s in pages if s.run_name == "r3").parent_run_id == ids[0]


def test_run_summaries_filter_view_and_chosen_first(client: nbtrack.TrackingClient) -> None:
    ids = _fill(client, 8)
    client.set_tag(ids[1], "nbtrack.notebook", "/n/a.ipynb")
    client.set_tag(ids[6], "nbtrack.notebook", "/n/a.ipynb")
    client.delete_run(ids[7])
    client.flush()
    queries = client.queries
    page = queries.run_summaries(None, "params.lr = '0'", [], "active", 100, 0)
    assert [s.run_name for s in page.runs] == ["r6", "r3", "r0"]
    first = queries.run_summaries(
        None, None, [], "active", 3, 0, first=("nbtrack.notebook", ["/n/a.ipynb"])
    )
    assert [s.run_name for s in first.runs] == ["r6", "r1", "r5"]
    assert first.more
    assert [s.run_name for s in queries.run_summaries(None, None, [], "deleted", 9, 0).runs] == [
        "r7"
    ]
    assert queries.count_runs(None, "metrics.loss < 0.3") == 4
    assert queries.count_runs(None, None, "all") == 8
    with pytest.raises(FilterSyntaxError):
        queries.run_summaries(None, "params.lr >", [], "active", 5, 0)


def test_run_page_sorts_by_duration_and_groups_children(client: nbtrack.TrackingClient) -> None:
    ids = _fill(client, 8)
    queries = client.queries
    page = queries.run_page(None, None, ("attribute", "duration"), True, 0, 3)
    assert [r.info.run_name for r in page.runs] == ["r7", "r6", "r5"]  # 1000+9i ms each
    assert page.total == 8
    grouped = queries.with_children(queries.run_page(None, "params.seed = '0'", None, True, 0, 5))
    # Run 0's children (3 and 7) come whole under it, oldest first.
    assert [r.info.run_name for r in grouped.runs] == ["r0", "r3", "r7"]
    assert queries.run_status(ids[0]) == "FINISHED"
    with pytest.raises(NotFoundError):
        queries.run_status("0" * 32)


def test_one_history_read_serves_every_caller(client: nbtrack.TrackingClient) -> None:
    run_id = client.create_run(client.create_experiment("h")).info.run_id
    values = [0.5, math.nan, 2.0, -1.0, math.inf]
    client.log_batch(run_id, metrics=[("m", v, 100 + s, s * 2) for s, v in enumerate(values)])
    client.flush()
    history = client.get_metric_history(run_id, "m")
    assert [p.step for p in history] == [0, 2, 4, 6, 8]
    assert math.isnan(history[1].value)
    steps, times, found = client.queries.metric_arrays(run_id, "m")  # NaN left out
    assert steps.tolist() == [0, 4, 6, 8]
    assert times.tolist() == [100, 102, 103, 104]
    assert found.tolist() == [0.5, 2.0, -1.0, math.inf]
    steps, found = client.queries.metric_steps_values(run_id, "m")
    assert steps.tolist() == [0, 4, 6, 8]
    later = client.queries.metric_arrays(run_id, "m", after_step=4)
    assert later[0].tolist() == [6, 8]
    series = client.queries.series(SeriesCache(1000, 0), run_id, "m")  # NaN kept
    assert series.steps.tolist() == [0, 2, 4, 6, 8]
    assert np.isnan(series.values[1])
    assert client.get_metric_history(run_id, "never") == []
    assert len(client.queries.metric_arrays(run_id, "never")[0]) == 0
    summary = client.queries.metric_summaries(run_id)["m"]
    assert (summary.value, summary.step, summary.min, summary.max) == (math.inf, 8, -1.0, math.inf)


def test_grid_series_samples_long_histories(client: nbtrack.TrackingClient) -> None:
    run_id = client.create_run(client.create_experiment("g")).info.run_id
    client.log_batch(run_id, metrics=[("long", float(i), 1_000 + i, i) for i in range(1000)])
    client.log_batch(run_id, metrics=[("short", float(i), 1_000 + i, i) for i in range(5)])
    client.log_metric(run_id, "short", math.nan, step=5)
    client.flush()
    found = client.queries.grid_series(SeriesCache(10_000, 0), [run_id], ["long", "short", "x"], 50)
    long, short, missing = found
    assert (long.downsampled, long.total_points) == (True, None)
    assert (len(long.steps), long.steps[0], long.steps[-1]) == (50, 0, 999)
    assert long.values == [float(s) for s in long.steps]
    assert (short.downsampled, short.total_points) == (False, 6)
    assert short.values == [0.0, 1.0, 2.0, 3.0, 4.0, None]
    assert (missing.steps, missing.total_points) == ([], 0)
