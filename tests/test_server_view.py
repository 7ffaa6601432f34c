"""The Experiments view's endpoints: ``GET histories`` (a chart grid in one answer) and
``GET compare`` (params diff, metric summaries, notebook diff), on real stores."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jupyter_server")
pytest.importorskip("pytest_jupyter")

import itertools

from IPython.core.interactiveshell import InteractiveShell
from pytest_jupyter.jupyter_server import *  # noqa: F403 - its fixtures, for this module only

import nbtrack
from _server_helpers import Api, api_caller, error, notebook_run, ok
from _ui_helpers import make_runs

ENABLED: dict[str, Any] = {"ServerApp": {"jpserver_extensions": {"nbtrack": True}}}


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    """nbtrack enabled."""
    return copy.deepcopy(ENABLED)


@pytest.fixture
def api(jp_fetch: Any, jp_asyncio_loop: Any) -> Api:
    """``api("histories", params=[...])``: one GET of nbtrack/api."""
    return api_caller(jp_fetch, jp_asyncio_loop)


@pytest.fixture
def notebook_run_id(ip: InteractiveShell) -> str:
    """A run made by notebook cells (listed before ``api``: see test_server_api.py)."""
    return notebook_run(ip)


def test_histories_gives_every_series_of_a_grid(api: Api, client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 3, steps=20)
    params = [("run_id", i) for i in ids] + [("key", "loss"), ("key", "acc"), ("key", "never")]
    found = ok(api("histories", params=params))["histories"]
    assert [(h["run_id"], h["key"]) for h in found] == [
        (i, k) for i in ids for k in ("loss", "acc", "never")
    ]
    loss = found[3]  # run 1, loss: every point, in columns
    assert loss["steps"] == list(range(20))
    assert loss["values"] == [1.0 / (s + 1) + 1 for s in range(20)]
    assert len(loss["timestamps"]) == 20
    assert (loss["downsampled"], loss["total_points"]) == (False, 20)
    assert found[2] == {"run_id": ids[0], "key": "never", "steps": [], "timestamps": [],
                        "values": [], "downsampled": False, "total_points": 0}  # fmt: skip
    # The same points as the one-run history endpoint.
    one = ok(api("runs", ids[1], "history", params={"key": "loss"}))
    assert [p["value"] for p in one["points"]] == loss["values"]


def test_long_histories_are_sampled_by_index_seeks(
    api: Api, client: nbtrack.TrackingClient
) -> None:
    run_id = client.create_run(client.create_experiment("long")).info.run_id
    # Every other step logged (sparse), 10,000 points: steps 0, 2, ..., 19998.
    values = {2 * i: 1.0 - i / 10_000 for i in range(10_000)}
    values[20] = math.nan
    client.log_batch(run_id, metrics=[("x", v, 1000 + s, s) for s, v in values.items()])
    client.flush()
    params = [("run_id", run_id), ("key", "x"), ("max_points", "201")]
    (series,) = ok(api("histories", params=params))["histories"]
    assert series["downsampled"] is True
    assert series["total_points"] is None  # not counted: that would scan the series
    steps, points = series["steps"], series["values"]
    assert 150 <= len(steps) <= 201
    assert steps == sorted(steps)
    assert (steps[0], steps[-1]) == (0, 19998)
    # Each sample is a real point: its own step, timestamp and value.
    for step, stamp, value in zip(steps, series["timestamps"], points, strict=True):
        assert stamp == 1000 + step
        assert value == (None if step == 20 else values[step])
    # Evenly spread: no gap much wider than the range / samples.
    gaps = [b - a for a, b in itertools.pairwise(steps)]
    assert max(gaps) <= 2 * 19998 / 200 + 2


def test_histories_refuses_bad_input_with_the_fix(api: Api, client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 1)
    assert "at least one run" in error(api("histories", params={"key": "loss"}), 400)
    assert "at least one metric" in error(api("histories", params={"run_id": ids[0]}), 400)
    bad = [("run_id", ids[0]), ("key", "loss"), ("max_points", "2")]
    assert "max_points must be between" in error(api("histories", params=bad), 400)
    many = [("run_id", f"{i:032x}") for i in range(51)] + [("key", "loss")]
    assert "at most 50 runs" in error(api("histories", params=many), 400)
    keys = [("run_id", f"{i:032x}") for i in range(50)] + [("key", f"k{i}") for i in range(41)]
    assert "series" in error(api("histories", params=keys), 400)
    unknown = [("run_id", ids[0]), ("run_id", "f" * 32), ("key", "loss")]
    assert "f" * 32 in error(api("histories", params=unknown), 404)


def test_histories_of_a_missing_store_is_a_404_and_creates_nothing(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "nowhere" / ".nbtrack"
    monkeypatch.setenv("NBTRACK_TRACKING_URI", str(empty))
    message = error(api("histories", params={"run_id": "a" * 32, "key": "x"}), 404)
    assert "no store" in message
    assert not empty.exists()


def test_compare_gives_params_diff_metrics_and_notebook_diff(
    notebook_run_id: str, ip: InteractiveShell, api: Api, client: nbtrack.TrackingClient
) -> None:
    other = notebook_run(ip)  # the same cells again: a second notebook run
    ids = make_runs(client, 2)
    answer = ok(api("compare", params=[("run_id", i) for i in ids]))
    assert [r["run_id"] for r in answer["runs"]] == ids
    assert answer["param_keys"] == ["lr", "opt"]
    assert answer["differing_params"] == ["lr"]
    assert answer["metric_keys"] == ["acc", "loss"]
    loss = answer["runs"][1]["metrics"]["loss"]
    assert loss["last"] == pytest.approx(1.0 / 20 + 1)
    assert (loss["min"], loss["max"]) == (pytest.approx(1.05), 2.0)
    # Runs logged by the client have no notebook: an empty diff, no error.
    assert answer["diff"]["summary"] == {"added": 0, "removed": 0, "source": 0,
                                         "outputs": 0, "same": 0}  # fmt: skip

    pair = ok(api("compare", params=[("run_id", notebook_run_id), ("run_id", other)]))
    diff = pair["diff"]
    assert (diff["base"], diff["other"]) == (notebook_run_id, other)
    assert diff["summary"]["same"] + diff["summary"]["outputs"] >= 5
    assert all(c["kind"] in {"same", "outputs"} for c in diff["changes"])
    assert any("log_param" in c["new"]["source"] for c in diff["changes"])

    one = ok(api("compare", params={"run_id": ids[0]}))
    assert one["diff"] is None
    chosen = [("run_id", ids[0]), ("run_id", ids[1]), ("run_id", notebook_run_id),
              ("base", notebook_run_id), ("other", ids[0])]  # fmt: skip
    picked = ok(api("compare", params=chosen))["diff"]
    assert (picked["base"], picked["other"]) == (notebook_run_id, ids[0])
    assert picked["summary"]["removed"] >= 5
    json.dumps(picked)


def test_compare_refuses_bad_input(api: Api, client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 2)
    assert "compare?run_id=" in error(api("compare"), 400)
    many = [("run_id", f"{i:032x}") for i in range(21)]
    assert "at most 20 runs" in error(api("compare", params=many), 400)
    stray = [("run_id", ids[0]), ("run_id", ids[1]), ("base", "nope")]
    assert "not one of the runs" in error(api("compare", params=stray), 400)
    assert "f" * 32 in error(api("compare", params=[("run_id", "f" * 32)]), 404)
