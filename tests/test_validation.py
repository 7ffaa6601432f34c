"""Input checks: every refusal names the problem, and nothing refused reaches the store."""

from __future__ import annotations

import math
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import nbtrack
from _tag_helpers import user_tags
from nbtrack import FilterSyntaxError, InvalidInputError, NotFoundError, TrackingClient, ViewType
from nbtrack import _validation as check


@pytest.fixture
def run_id(client: TrackingClient) -> str:
    return client.create_run("0").info.run_id


# -- names ----------------------------------------------------------------------------


@pytest.mark.parametrize("good", ["loss", "train/loss", "val loss", "a.b-c_d:e", "x" * 250, "é"])
def test_valid_keys_are_accepted(good: str) -> None:
    assert check.key(good) == good


def test_empty_key_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidInputError, match=r"metric name is empty; give it a name"):
        check.key("", "metric name")


def test_over_long_key_names_its_length_and_the_limit() -> None:
    with pytest.raises(InvalidInputError, match=r"is 251 characters; the limit is 250"):
        check.key("k" * 251)


@pytest.mark.parametrize(("bad", "shown"), [("a*b", "'*'"), ("a?b", "'?'"), ("x=1;", "';='")])
def test_key_with_refused_characters_names_them(bad: str, shown: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        check.key(bad, "parameter name")
    message = str(info.value)
    assert f"Invalid parameter name: {bad!r} contains {shown}" in message
    assert "letters, digits, underscores" in message


@pytest.mark.parametrize("bad", ["../x", "..", ".", "/abs", "a/../b", "a//b", "a/", "./a"])
def test_keys_that_change_meaning_as_paths_are_refused(bad: str) -> None:
    # MLflow refuses these too (``path_not_unique``), so they could not be moved there.
    with pytest.raises(InvalidInputError, match="would change meaning as a path"):
        check.key(bad)


@pytest.mark.parametrize("bad", [5, None, ["a"], b"loss"])
def test_non_string_keys_are_refused_not_crashed_on(bad: object) -> None:
    with pytest.raises(InvalidInputError, match=r"key must be a string, got"):
        check.key(bad)


def test_bad_keys_are_refused_through_the_client(client: TrackingClient, run_id: str) -> None:
    with pytest.raises(InvalidInputError, match=r"Invalid metric name: 'a\*b' contains"):
        client.log_metric(run_id, "a*b", 1.0)
    with pytest.raises(InvalidInputError, match="would change meaning as a path"):
        client.log_param(run_id, "../x", 1)
    with pytest.raises(InvalidInputError, match="tag name is empty"):
        client.set_tag(run_id, "", "v")
    run = client.get_run(run_id)
    assert run.data.metrics == {}
    assert run.data.params == {}
    assert user_tags(run.data.tags) == {}


def test_run_and_experiment_names(client: TrackingClient) -> None:
    with pytest.raises(InvalidInputError, match="run name must be a non-empty string"):
        client.create_run("0", run_name="  ")
    with pytest.raises(InvalidInputError, match="run name is 251 characters; the limit is 250"):
        client.create_run("0", run_name="r" * 251)
    assert client.create_run("0", run_name="r" * 250).info.run_name == "r" * 250
    with pytest.raises(InvalidInputError, match="experiment name must be a non-empty string"):
        client.create_experiment("")
    with pytest.raises(InvalidInputError, match="experiment name is 257 characters"):
        client.create_experiment("e" * 257)


# -- metric values and steps ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [("0.5", "str '0.5'"), (None, "NoneType None"), ([1.0], "list [1.0]"), ({}, "dict {}")],
)
def test_non_numeric_metric_values_are_refused(value: object, kind: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        check.metric_value("loss", value)
    assert f"metric 'loss' must be a number, got {kind}" in str(info.value)
    assert "log_param / set_tag for text" in str(info.value)


def test_long_values_are_shortened_in_the_message() -> None:
    with pytest.raises(InvalidInputError) as info:
        check.metric_value("loss", list(range(1000)))
    assert "..." in str(info.value)
    assert len(str(info.value)) < 250


@pytest.mark.parametrize("flag", [True, False, np.bool_(True)])
def test_bool_metric_is_refused_with_a_hint(flag: object) -> None:
    with pytest.raises(InvalidInputError, match=r"got a bool .*log float\(.*set_tag for a flag"):
        check.metric_value("converged", flag)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.float32(0.5), 0.5),
        (np.float64(0.25), 0.25),
        (np.int64(7), 7.0),
        (np.int8(-3), -3.0),
        (np.array(1.5), 1.5),
        (np.array(4, dtype=np.int32), 4.0),
        (3, 3.0),
    ],
)
def test_numpy_scalars_are_accepted_as_floats(value: object, expected: float) -> None:
    stored = check.metric_value("m", value)
    assert type(stored) is float
    assert stored == expected


def test_numpy_array_with_dimensions_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="must be a number, got ndarray"):
        check.metric_value("m", np.array([1.0, 2.0]))


def test_numpy_values_round_trip_through_the_store(client: TrackingClient, run_id: str) -> None:
    client.log_metric(run_id, "f32", np.float32(0.5), step=np.int64(3))
    client.log_metric(run_id, "zero_d", np.array(2.0), step=np.int32(1))
    history = client.get_metric_history(run_id, "f32")
    assert [(m.step, m.value) for m in history] == [(3, 0.5)]
    assert type(history[0].step) is int
    assert client.get_run(run_id).data.metrics == {"f32": 0.5, "zero_d": 2.0}


def test_nan_and_inf_are_stored_and_returned_faithfully(
    client: TrackingClient, run_id: str
) -> None:
    values = [math.nan, math.inf, -math.inf, 1.0]
    for step, value in enumerate(values):
        client.log_metric(run_id, "all", value, step=step)
    client.log_metric(run_id, "nan", math.nan)
    client.log_metric(run_id, "inf", math.inf)
    client.log_metric(run_id, "ninf", np.float32("-inf"))
    history = client.get_metric_history(run_id, "all")
    assert [m.step for m in history] == [0, 1, 2, 3]
    assert math.isnan(history[0].value)
    assert history[1].value == math.inf
    assert history[2].value == -math.inf
    assert history[3].value == 1.0
    latest = client.get_run(run_id).data.metrics
    assert math.isnan(latest["nan"])
    assert latest["inf"] == math.inf
    assert latest["ninf"] == -math.inf
    assert latest["all"] == 1.0
    frame = client.search_runs_frame("0")
    assert math.isnan(frame.loc[0, "metrics.nan"])
    assert frame.loc[0, "metrics.inf"] == math.inf


@pytest.mark.parametrize("bad", [1.0, 2.5, "3", True, np.float64(1.0)])
def test_step_must_be_an_integer(bad: object) -> None:
    with pytest.raises(InvalidInputError, match=r"step of metric 'loss' must be an integer"):
        check.step("loss", bad)


def test_integer_steps_are_accepted() -> None:
    assert check.step("loss", None) is None
    assert check.step("loss", 4) == 4
    stepped = check.step("loss", np.int64(9))
    assert stepped == 9
    assert type(stepped) is int


def test_float_step_refused_through_the_client(client: TrackingClient, run_id: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape("must be an integer, got float 1.0")):
        client.log_metric(run_id, "loss", 0.1, step=1.0)
    assert client.get_metric_history(run_id, "loss") == []


def test_bad_timestamp_is_refused(client: TrackingClient, run_id: str) -> None:
    with pytest.raises(InvalidInputError, match="timestamp must be integer milliseconds"):
        client.log_metric(run_id, "loss", 0.1, timestamp=1.5)


# -- params and tags ------------------------------------------------------------------


def test_param_logged_again_with_another_value_is_refused(
    client: TrackingClient, run_id: str, store_dir: Path
) -> None:
    client.log_param(run_id, "lr", 0.01)
    with pytest.raises(InvalidInputError) as info:
        client.log_param(run_id, "lr", 0.1)
    message = str(info.value)
    assert "'0.01'" in message
    assert "'0.1'" in message
    assert "param 'lr'" in message
    client.flush()
    assert client.get_run(run_id).data.params == {"lr": "0.01"}
    with sqlite3.connect(store_dir / "nbtrack.db") as conn:
        rows = conn.execute("SELECT key, value FROM params").fetchall()
    assert rows == [("lr", "0.01")]


def test_conflicting_param_in_a_batch_stores_nothing_of_the_batch(
    client: TrackingClient, run_id: str
) -> None:
    client.log_param(run_id, "lr", "0.01")
    with pytest.raises(InvalidInputError, match=re.escape("already '0.01'; refusing '0.2'")):
        client.log_batch(
            run_id,
            metrics=[("loss", 1.0, None, 0)],
            params=[("batch", 32), ("lr", "0.2")],
            tags=[("team", "x")],
        )
    run = client.get_run(run_id)
    assert run.data.params == {"lr": "0.01"}
    assert run.data.metrics == {}
    assert user_tags(run.data.tags) == {}


def test_same_param_value_twice_is_fine(client: TrackingClient, run_id: str) -> None:
    assert client.log_param(run_id, "lr", 0.01) == 0.01
    assert client.log_param(run_id, "lr", 0.01) == 0.01
    assert client.log_param(run_id, "lr", "0.01") == "0.01"  # same stored string
    client.log_batch(run_id, params=[("depth", 3), ("depth", "3")])
    assert client.get_run(run_id).data.params == {"lr": "0.01", "depth": "3"}


def test_param_conflict_within_one_batch_is_refused(client: TrackingClient, run_id: str) -> None:
    with pytest.raises(InvalidInputError, match="already '1'; refusing '2'"):
        client.log_batch(run_id, params=[("depth", 1), ("depth", 2)])
    assert client.get_run(run_id).data.params == {}


def test_over_long_param_value_is_refused(client: TrackingClient, run_id: str) -> None:
    client.log_param(run_id, "ok", "v" * 6000)
    with pytest.raises(InvalidInputError) as info:
        client.log_param(run_id, "big", "v" * 6001)
    assert "6001 characters long; the limit is 6000" in str(info.value)
    assert "log_text or log_dict" in str(info.value)
    assert client.get_run(run_id).data.params == {"ok": "v" * 6000}


def test_over_long_tag_value_is_refused(client: TrackingClient, run_id: str) -> None:
    with pytest.raises(InvalidInputError, match="8001 characters long; the limit is 8000"):
        client.set_tag(run_id, "note", "n" * 8001)


# -- statuses, ids, view types, filters -----------------------------------------------


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("DONE", "unknown run status 'DONE'; use one of RUNNING"),
        ("RUNNING", "a run ends as FINISHED, FAILED or KILLED, not 'RUNNING'"),
        ("scheduled", "a run ends as FINISHED, FAILED or KILLED"),
    ],
)
def test_bad_status_in_set_terminated(
    client: TrackingClient, run_id: str, status: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        client.set_terminated(run_id, status)
    assert client.get_run(run_id).info.status == "RUNNING"


def test_lowercase_terminal_status_is_accepted(client: TrackingClient, run_id: str) -> None:
    client.set_terminated(run_id, "killed")
    info = client.get_run(run_id).info
    assert info.status == "KILLED"
    assert info.end_time is not None


@pytest.mark.parametrize("bad", ["abc", "1.5", "", None])
def test_bad_experiment_id_is_refused(client: TrackingClient, bad: object) -> None:
    with pytest.raises(InvalidInputError, match="is not an id; ids are integers"):
        client.get_experiment(bad)
    with pytest.raises(InvalidInputError, match="is not an id"):
        client.create_run(bad)


def test_unknown_experiment_id_is_not_found(client: TrackingClient) -> None:
    with pytest.raises(NotFoundError, match="No Experiment with id=999 exists"):
        client.get_experiment("999")
    with pytest.raises(NotFoundError, match="No Experiment with id=999 exists"):
        client.create_run("999")


@pytest.mark.parametrize("bad", [0, 4, 99, "bogus", "ACTIVE", None])
def test_unknown_view_type_is_refused(client: TrackingClient, bad: object) -> None:
    with pytest.raises(InvalidInputError, match=r"unknown view type .*ViewType.ACTIVE_ONLY"):
        client.search_runs("0", run_view_type=bad)
    with pytest.raises(InvalidInputError, match="unknown view type"):
        client.search_experiments(view_type=bad)


def test_view_types_by_value_and_name_work(client: TrackingClient) -> None:
    assert [e.name for e in client.search_experiments(ViewType.ALL)] == ["Default"]
    assert [e.name for e in client.search_experiments(1)] == ["Default"]
    assert client.search_experiments(ViewType.DELETED_ONLY) == []


def test_bad_search_filter_points_at_the_problem(client: TrackingClient) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        client.search_runs("0", "metrics.acc >> 0.5")
    error = info.value
    assert error.position == 13
    assert "(at position 13)" in str(error)
    assert "metrics.acc >> 0.5" in str(error)
    assert isinstance(error, InvalidInputError)


def test_bad_search_filter_through_the_fluent_api() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        nbtrack.search_runs(filter_string="params.lr = 0.1 AND")
    assert info.value.position > 0
    assert "position" in str(info.value)


def test_unsupported_experiment_filter_is_refused(client: TrackingClient) -> None:
    with pytest.raises(InvalidInputError, match=r"experiment filter .* is not supported"):
        client.search_experiments(filter_string="tags.team = 'x'")
