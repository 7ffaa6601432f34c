"""The compare panel's content and the notebook diff."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("altair")
pytest.importorskip("ipywidgets")

import nbtrack
from _ui_helpers import make_evil_run, make_runs
from nbtrack.entities import CellEvent, MetricProvenance
from nbtrack.exceptions import InvalidInputError
from nbtrack.ui import _notebook_diff, compare
from nbtrack.ui._notebook_diff import Cell, diff_cells


def _notebook(cells: list[tuple[str, str, str]]) -> str:
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [
                {
                    "id": cid,
                    "cell_type": "code",
                    "source": src,
                    "metadata": {},
                    "execution_count": 1,
                    "outputs": [{"output_type": "stream", "name": "stdout", "text": out}],
                }
                for cid, src, out in cells
            ],
        }
    )


def test_params_side_by_side(client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 3)
    panel = compare(ids, client=client)
    html = panel.params_html()
    assert panel.differing == ["lr"]
    assert '<tr class="differs"><td title="lr">lr</td>' in html
    assert "<details><summary>1 equal params</summary>" in html
    assert html.index("lr") < html.index("<details>") < html.index("adam")


def test_metrics_last_min_max(client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 2, steps=10)
    panel = compare(ids, client=client)
    rows = {r[0]: r[1:] for r in panel.metrics_rows()}
    assert rows["loss"][0] == "0.1 / 0.1 / 1"  # run-0: 1/(s+1), last 1/10
    assert rows["loss"][1] == "1.1 / 1.1 / 2"
    assert "acc" in rows


def test_metric_values_in_four_digits_with_the_full_value_on_hover(
    client: nbtrack.TrackingClient,
) -> None:
    ids = make_runs(client, 2, steps=3)
    client.log_metric(ids[0], "ratio", 2 / 3)
    client.log_metric(ids[1], "ratio", 123456.789)
    client.flush()
    panel = compare(ids, client=client)
    rows = {r[0]: r[1:] for r in panel.metrics_rows()}
    assert rows["ratio"] == ["0.6667 / 0.6667 / 0.6667", "1.235e+05 / 1.235e+05 / 1.235e+05"]
    html = panel.metrics_html()
    full = " / ".join([repr(2 / 3)] * 3)
    assert f'<td title="{full}">0.6667 / 0.6667 / 0.6667</td>' in html
    assert '<td title="123456.789 / 123456.789 / 123456.789">1.235e+05' in html


def test_runs_logged_by_the_client_show_no_provenance_section(
    client: nbtrack.TrackingClient,
) -> None:
    ids = make_runs(client, 2)  # logged through the client: no notebook cells
    panel = compare(ids, client=client)
    assert panel.provenance_html() == ""
    assert "provenance" not in panel.html().lower()


def test_charts_overlay_parallel_and_scatter(client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 3)
    panel = compare(ids, metric="loss", client=client)
    overlay, parallel, scatter = panel.charts()
    assert len(overlay.to_dict()["vconcat"]) == 2  # acc and loss
    pspec = parallel.to_dict()
    axes = {r["axis"] for r in pspec["data"]["values"]}
    assert axes == {"lr", "loss"}
    assert all(0.0 <= r["y"] <= 1.0 for r in pspec["data"]["values"])
    sspec = scatter.to_dict()
    assert sspec["encoding"]["x"]["field"] == "param"
    assert sspec["encoding"]["x"]["type"] == "quantitative"
    assert [r["param"] for r in sspec["data"]["values"]] == pytest.approx([0.1, 0.2, 0.3])
    assert sspec["$schema"].endswith("v5.20.1.json")


def test_notebook_diff_of_snapshots(client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 2)
    client.log_text(
        ids[0],
        _notebook([("a", "import x", ""), ("b", "lr = 0.1\nfit(lr)", "0.9"), ("c", "old", "")]),
        "notebook.ipynb",
    )
    client.log_text(
        ids[1],
        _notebook([("a", "import x", ""), ("b", "lr = 0.2\nfit(lr)", "0.8"), ("d", "new", "")]),
        "notebook.ipynb",
    )
    panel = compare(ids, client=client)
    changes = panel.notebook_diff()
    assert changes is not None
    assert [c.kind for c in changes] == ["same", "source", "removed", "added"]
    assert changes[1].line_diff() == ["@@ -1,2 +1,2 @@", "-lr = 0.1", "+lr = 0.2", " fit(lr)"]
    html = panel.diff_html()
    assert "1 added, 1 removed, 1 changed source, 0 changed outputs, 1 unchanged" in html
    assert '<span class="removed">-lr = 0.1</span>' in html
    assert "outputs changed" in html
    assert "notebook diff:" in panel.text()


def test_diff_falls_back_to_executed_then_timeline(client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 2)
    client.log_text(ids[0], _notebook([("a", "x = 1", "")]), "executed.ipynb")
    cells, source = _notebook_diff.load_cells(client, ids[0])
    assert source == "executed.ipynb"
    assert cells[0].source == "x = 1"
    cells, source = _notebook_diff.load_cells(client, ids[1])
    assert source == "timeline"
    assert cells == []


def test_diff_cells_without_ids_aligns_by_source() -> None:
    old = [Cell(None, "a", ""), Cell(None, "b", "1"), Cell(None, "c", "")]
    new = [Cell(None, "a", ""), Cell(None, "b", "2"), Cell(None, "c2", ""), Cell(None, "d", "")]
    kinds = [c.kind for c in diff_cells(old, new)]
    assert kinds == ["same", "outputs", "source", "added"]
    assert _notebook_diff.summary(diff_cells(old, old))["same"] == 3


def test_provenance_links_cells(
    client: nbtrack.TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = make_runs(client, 2)
    cell = CellEvent(3, "cell-<x>", 7, "for s in range(10):\n    log(s)", 0, 5, "ok")
    no_id = CellEvent(4, None, None, "<b>", 0, 5, "ok")

    def provenance(run_id: str, key: str) -> list[MetricProvenance]:
        return [MetricProvenance(key, cell, 0, 9, 10), MetricProvenance(key, no_id, 10, 10, 1)]

    monkeypatch.setattr(client, "get_metric_provenance", provenance)
    html = compare(ids, client=client).provenance_html()
    assert 'data-nbtrack-cell-id="cell-&lt;x&gt;"' in html
    assert "In [7]</a>" in html
    assert "<code>for s in range(10):</code>" in html
    assert "<code>&lt;b&gt;</code>" in html


def test_everything_user_written_is_escaped(client: nbtrack.TrackingClient) -> None:
    evil = make_evil_run(client)
    other = make_runs(client, 1)[0]
    client.log_text(
        evil, _notebook([("a", "<script>alert(1)</script>", "<img>")]), "notebook.ipynb"
    )
    panel = compare([other, evil], client=client)
    html = panel.html()
    assert "<img" not in html
    assert "<script" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;" in html


def test_widget_and_terminal(
    client: nbtrack.TrackingClient, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = make_runs(client, 2)
    panel = compare(ids, client=client)
    root = panel.widget
    assert "nbtrack-compare" in root._dom_classes
    assert "Params" in root.children[0].value
    panel._ipython_display_()
    out = capsys.readouterr().out
    assert "params that differ" in out


def test_compare_needs_runs(client: nbtrack.TrackingClient) -> None:
    from nbtrack.ui import _compare

    _compare.LAST_TABLE = None
    with pytest.raises(InvalidInputError):
        compare(client=client)
    with pytest.raises(InvalidInputError):
        compare([], client=client)
