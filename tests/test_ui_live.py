"""Live charts: redraw throttle, incremental reads, stop at run end."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("altair")

import nbtrack
from nbtrack.exceptions import InvalidInputError
from nbtrack.ui import LiveChart, MetricChart, live


def test_live_chart_follows_the_run_and_stops_when_it_ends(
    client: nbtrack.TrackingClient,
) -> None:
    exp = client.create_experiment("live")
    run_id = client.create_run(exp, run_name="train").info.run_id
    drawn: list[MetricChart] = []
    chart = LiveChart(["loss"], run_id, interval=0.2, client=client, render=drawn.append)
    chart.start()
    started = time.monotonic()
    step = 0
    while time.monotonic() - started < 1.2:  # log as fast as possible
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
        step += 1
        if step % 100 == 0:
            client.flush()
    client.set_terminated(run_id)
    chart.join(timeout=5)
    elapsed = time.monotonic() - started
    assert not chart.running
    assert chart.error is None
    # one draw at start, at most one per interval after, one last after the end
    assert 2 <= chart.redraws <= elapsed / 0.2 + 2
    gaps = [b - a for a, b in zip(chart.redraw_times[1:], chart.redraw_times[2:], strict=False)]
    assert all(gap >= 0.15 for gap in gaps), gaps
    final = drawn[-1].to_dict()
    assert f"{step} points" in drawn[-1].summary
    assert final["$schema"].endswith("v5.20.1.json")


def test_interval_has_a_floor_and_stop_works(client: nbtrack.TrackingClient) -> None:
    exp = client.create_experiment("live")
    run_id = client.create_run(exp).info.run_id
    chart = LiveChart(["loss"], run_id, interval=0.0, client=client, render=lambda _c: None)
    assert chart.interval == 0.2
    chart.start()
    chart.stop()
    chart.join(timeout=2)
    assert not chart.running


def test_live_defaults_to_the_active_run(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInputError):
        live("loss")
    drawn: list[MetricChart] = []
    monkeypatch.setattr(LiveChart, "_update_display", lambda self, c: drawn.append(c))
    with nbtrack.start_run() as run:
        nbtrack.log_metric("loss", 1.0)
        nbtrack.TrackingClient().flush()
        chart = live(["loss"], interval=0.2)
        assert chart.run_id == run.info.run_id
    chart.join(timeout=3)
    assert not chart.running
    assert "1 points" in drawn[-1].summary
