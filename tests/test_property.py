"""Random sequences of logging calls never lose or alter an acknowledged value.

A Hypothesis state machine drives a real store (through ``TrackingClient``)
and a plain Python model side by side: metrics with explicit or automatic
steps (values include NaN, ±inf, huge and subnormal floats), params (a
different value for a logged param is refused and changes nothing), tags,
tag deletion, flushes, and closing and reopening the store. At random points
and at the end everything the store returns is compared with the model.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

import nbtrack
from _tag_helpers import user_tags
from nbtrack._validation import MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS
from nbtrack.exceptions import NotFoundError
from nbtrack.store import close_all, schema

RUNS = 2
METRIC_KEYS = ["loss", "val loss", "a/b:c.d-e_f"]
PARAM_KEYS = ["lr", "depth"]
TAG_KEYS = ["team", "mlflow.note.content", "x"]

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324, 2.2250738585072014e-308]
    ),
    st.integers(-(2**70), 2**70),
)
steps = st.one_of(st.none(), st.integers(-3, 8), st.just(10**12))
timestamps = st.one_of(st.none(), st.integers(MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS))
param_values = st.sampled_from(["0.1", "0.2", 3, "3", 0.1, ""])


def same(a: float | None, b: float | None) -> bool:
    """Equal, with NaN equal to NaN."""
    if a is None or b is None:
        return a is b
    return (math.isnan(a) and math.isnan(b)) or a == b


class LoggingModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="nbtrack-prop-"))
        self.client = nbtrack.TrackingClient(self.dir / "store")
        self.run_ids = [self.client.create_run("0").info.run_id for _ in range(RUNS)]
        # run -> key -> step -> (value, timestamp or None when the store chose it)
        self.metrics: list[dict[str, dict[int, tuple[float, int | None]]]] = [
            {} for _ in range(RUNS)
        ]
        # run -> key -> the step ``step=None`` continues from
        self.last_step: list[dict[str, int]] = [{} for _ in range(RUNS)]
        self.params: list[dict[str, str]] = [{} for _ in range(RUNS)]
        self.tags: list[dict[str, str]] = [{} for _ in range(RUNS)]

    @initialize()
    def start(self) -> None:
        self.check()

    # -- actions --------------------------------------------------------------------

    @rule(
        run=st.integers(0, RUNS - 1),
        key=st.sampled_from(METRIC_KEYS),
        value=values,
        step=steps,
        timestamp=timestamps,
    )
    def log_metric(
        self, run: int, key: str, value: float, step: int | None, timestamp: int | None
    ) -> None:
        self.client.log_metric(self.run_ids[run], key, value, timestamp=timestamp, step=step)
        value = float(value)
        last = self.last_step[run].get(key, -1)
        if step is None:
            step = last + 1
        self.last_step[run][key] = max(last, step)
        self.metrics[run].setdefault(key, {})[step] = (value, timestamp)

    @rule(run=st.integers(0, RUNS - 1), key=st.sampled_from(PARAM_KEYS), value=param_values)
    def log_param(self, run: int, key: str, value: Any) -> None:
        before = self.params[run].get(key)
        if before is not None and before != str(value):
            with pytest.raises(nbtrack.InvalidInputError, match="already"):
                self.client.log_param(self.run_ids[run], key, value)
            return
        assert self.client.log_param(self.run_ids[run], key, value) == value
        self.params[run][key] = str(value)

    @rule(
        run=st.integers(0, RUNS - 1),
        key=st.sampled_from(TAG_KEYS),
        value=st.text(max_size=20),
    )
    def set_tag(self, run: int, key: str, value: str) -> None:
        self.client.set_tag(self.run_ids[run], key, value)
        self.tags[run][key] = value

    @rule(run=st.integers(0, RUNS - 1), key=st.sampled_from(TAG_KEYS))
    def delete_tag(self, run: int, key: str) -> None:
        if key not in self.tags[run]:  # as in MLflow, deleting an absent tag is an error
            with pytest.raises(NotFoundError, match="No tag with name"):
                self.client.delete_tag(self.run_ids[run], key)
            return
        self.client.delete_tag(self.run_ids[run], key)
        self.tags[run].pop(key)

    @rule()
    def flush(self) -> None:
        self.client.flush()

    @rule()
    def reopen(self) -> None:
        close_all()
        self.client = nbtrack.TrackingClient(self.dir / "store")

    @rule()
    def check(self) -> None:
        client = self.client
        for run, run_id in enumerate(self.run_ids):
            stored = client.get_run(run_id)
            assert stored.info.status == "RUNNING"
            assert stored.data.params == self.params[run]
            assert user_tags(stored.data.tags) == self.tags[run]
            series = self.metrics[run]
            assert client.get_metric_keys(run_id) == sorted(series)
            latest = {key: points[max(points)][0] for key, points in series.items()}
            assert set(stored.data.metrics) == set(latest)
            for key, value in latest.items():
                assert same(stored.data.metrics[key], value), (run, key)
            for key in METRIC_KEYS:
                expected = sorted(series.get(key, {}).items())
                history = client.get_metric_history(run_id, key)
                assert [m.step for m in history] == [step for step, _ in expected], (run, key)
                for metric, (_, (value, timestamp)) in zip(history, expected, strict=True):
                    assert metric.key == key
                    assert same(metric.value, value), (run, key, metric, value)
                    if timestamp is not None:
                        assert metric.timestamp == timestamp
            # latest_metrics keeps the min and max of the stored values (NaN ignored):
            # a value replaced at the same step no longer counts.
            stored_extremes = self._stored_extremes(run_id)
            assert set(stored_extremes) == set(self.metrics[run])
            for key, points in self.metrics[run].items():
                kept = [value for value, _ in points.values() if not math.isnan(value)]
                low, high = (min(kept), max(kept)) if kept else (None, None)
                assert same(stored_extremes[key][0], low), (run, key, stored_extremes[key])
                assert same(stored_extremes[key][1], high), (run, key, stored_extremes[key])

    def _stored_extremes(self, run_id: str) -> dict[str, tuple[float | None, float | None]]:
        store = self.client._store
        latest, keys = schema.latest_metrics, schema.metric_keys
        query = (
            sa.select(keys.c.key, latest.c.min_value, latest.c.max_value)
            .join(keys, keys.c.key_id == latest.c.key_id)
            .where(latest.c.run_pk == store.run_pk(run_id))
        )
        with store.engine.connect() as conn:
            return {key: (low, high) for key, low, high in conn.execute(query)}

    def teardown(self) -> None:
        try:
            self.check()
            self.reopen()  # everything acknowledged survives closing the store
            self.check()
        finally:
            close_all()
            shutil.rmtree(self.dir, ignore_errors=True)


def test_logging_never_loses_or_alters_acknowledged_values() -> None:
    run_state_machine_as_test(
        LoggingModel,
        settings=settings(
            max_examples=80,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_automatic_step_after_negative_steps_is_the_same_after_reopening(tmp_path: Path) -> None:
    """Found by the model above: ``step=None`` after only negative steps is 0, reopened or not.

    The store used to reload a metric's last step as its largest step (-3
    here), so the next automatic step became -2 after a reopen but 0 before.
    """
    client = nbtrack.TrackingClient(tmp_path / "store")
    run_id = client.create_run("0").info.run_id
    for key in ("kept", "reopened"):
        client.log_metric(run_id, key, 1.0, step=-3)
    client.log_metric(run_id, "kept", 2.0)
    close_all()
    client = nbtrack.TrackingClient(tmp_path / "store")
    client.log_metric(run_id, "reopened", 2.0)
    for key in ("kept", "reopened"):
        assert [m.step for m in client.get_metric_history(run_id, key)] == [-3, 0]
    client.log_metric(run_id, "reopened", 3.0, step=5)
    close_all()
    client = nbtrack.TrackingClient(tmp_path / "store")
    client.log_metric(run_id, "reopened", 4.0)
    assert [m.step for m in client.get_metric_history(run_id, "reopened")] == [-3, 0, 5, 6]
