"""Metric chart specs (``to_dict()``): v5 schema, downsampling bounds, size, EMA, log scale."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

pytest.importorskip("altair")

import nbtrack
from _ui_helpers import make_runs
from nbtrack._downsample import minmax_indices
from nbtrack.exceptions import InvalidInputError, NbtrackError
from nbtrack.ui import _charts, _display, metrics


def _values(spec: dict[str, object]) -> list[dict[str, object]]:
    data = spec["data"]
    assert isinstance(data, dict)
    return data["values"]  # type: ignore[no-any-return]


def test_spec_is_vega_lite_v5_with_runs_overlaid(client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 2, steps=10)
    spec = metrics(ids, "loss", client=client).to_dict()
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v5")
    rows = _values(spec)
    assert {r["run"] for r in rows} == {"run-0", "run-1"}
    assert len(rows) == 20
    layer = spec["layer"][0]
    assert layer["mark"]["type"] == "line"
    assert layer["encoding"]["color"]["field"] == "run"
    assert layer["encoding"]["x"]["field"] == "step"
    assert [t["field"] for t in layer["encoding"]["tooltip"]] == ["run", "step", "value"]
    assert spec["title"] == "loss"
    text = json.dumps(spec)
    assert "v6" not in text


def test_wall_time_log_scale_and_several_keys(client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 1, steps=5)
    spec = metrics(ids, ["loss", "acc"], x="time", log=True, client=client).to_dict()
    first = spec["vconcat"][0]
    enc = first["layer"][0]["encoding"]
    assert enc["x"]["type"] == "temporal"
    assert enc["x"]["field"] == "time"
    assert enc["y"]["scale"]["type"] == "log"
    with pytest.raises(InvalidInputError):
        metrics(ids, "loss", x="epoch", client=client)


def test_log_scale_leaves_out_non_positive_points() -> None:
    series = _charts.Series("r", np.arange(4.0), np.arange(4.0), np.array([1.0, 0.0, -1.0, 2.0]))
    chart, _ = _charts.chart_for("m", [series], log=True)
    assert [r["value"] for r in _values(chart.to_dict(validate=False))] == [1.0, 2.0]


def test_ema_values() -> None:
    out = _charts.ema(np.array([1.0, 2.0, 3.0, 4.0]), 0.5)
    assert out.tolist() == [1.0, 1.5, 2.25, 3.125]
    assert _charts.ema(np.array([5.0, 7.0]), 0.0).tolist() == [5.0, 7.0]
    with pytest.raises(InvalidInputError):
        _charts.ema(np.array([1.0]), 1.0)


def test_smoothing_adds_a_smoothed_layer(client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 1, steps=4)
    spec = metrics(ids, "loss", smoothing=0.5, client=client).to_dict()
    assert len(spec["layer"]) == 2
    assert spec["layer"][1]["encoding"]["y"]["field"] == "smoothed"
    values = [1.0 / (s + 1) for s in range(4)]
    expected = _charts.ema(np.array(values), 0.5).tolist()
    assert [r["smoothed"] for r in _values(spec)] == pytest.approx(expected)


def test_downsampling_keeps_spikes_and_bounds() -> None:
    n = 100_000
    values = np.sin(np.arange(n) / 1000.0)
    values[12_345] = 50.0
    values[67_890] = -50.0
    index = minmax_indices(values, 2000)
    assert len(index) <= 2000
    assert list(index) == sorted(set(index.tolist()))
    assert 12_345 in index
    assert 67_890 in index
    assert index[0] == 0
    assert index[-1] == n - 1
    assert len(minmax_indices(values[:10], 2000)) == 10


def test_million_points_spec_under_one_megabyte() -> None:
    n = 1_000_000
    steps = np.arange(n, dtype=np.float64)
    values = np.random.default_rng(0).normal(size=n)
    series = _charts.Series("big", steps, steps * 10, values)
    started = time.perf_counter()
    chart, downsampled = _charts.chart_for("loss", [series], smoothing=0.0)
    spec = _charts.MetricChart(chart, "").to_dict()
    elapsed = time.perf_counter() - started
    size = len(json.dumps(spec))
    assert downsampled
    assert len(_values(spec)) <= 2000
    assert size <= 1_000_000, size
    assert "downsampled" in spec["title"]
    assert "1,000,000" in spec["title"]
    assert elapsed < 5.0  # generous on a loaded 2-core machine; bench/bench_ui.py measures it


def test_mimebundle_is_v5_and_png_needs_vl_convert(
    client: nbtrack.TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = make_runs(client, 1, steps=3)
    chart = metrics(ids, "loss", client=client)
    bundle = chart._repr_mimebundle_()
    assert set(bundle) >= {_display.VEGALITE_V5, "text/plain"}
    assert bundle[_display.VEGALITE_V5]["$schema"] == _display.SCHEMA_V5
    assert "loss" in bundle["text/plain"]
    assert "3 points" in bundle["text/plain"]
    monkeypatch.setattr(_display, "has_vl_convert", lambda: False)
    png = metrics(ids, "loss", format="png", client=client)
    with pytest.raises(NbtrackError, match="vl-convert-python"):
        png._repr_mimebundle_()
    with pytest.raises(InvalidInputError):
        metrics(ids, "loss", format="svg", client=client)


def test_png_when_vl_convert_is_installed(client: nbtrack.TrackingClient) -> None:
    pytest.importorskip("vl_convert", reason="vl-convert-python is the optional png extra")
    ids = make_runs(client, 1, steps=3)
    bundle = metrics(ids, "loss", format="png", client=client)._repr_mimebundle_()
    assert "image/png" in bundle


def test_chart_displays_inside_an_output_widget(client: nbtrack.TrackingClient) -> None:
    widgets = pytest.importorskip("ipywidgets")
    ids = make_runs(client, 1, steps=3)
    out = widgets.Output()
    with out:
        metrics(ids, "loss", client=client).show()
    # without a kernel the display goes to stdout; the bundle itself is what a frontend gets
    assert isinstance(out.outputs, tuple)
