"""Panels keep ``system/*`` metrics apart: a "System" section, folded by default."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("altair")
pytest.importorskip("ipywidgets")

import nbtrack
from nbtrack.system_metrics import SystemMetricsMonitor
from nbtrack.ui import compare
from nbtrack.ui._display import has_vl_convert


def _sampled_run(client: nbtrack.TrackingClient, name: str) -> str:
    """A run with its own metric and real system samples (a few, 0.1 s apart)."""
    run = client.create_run("0", run_name=name)
    run_id = run.info.run_id
    for step in range(3):
        client.log_metric(run_id, "loss", 1 / (step + 1), step=step)
    monitor = SystemMetricsMonitor(run_id, client, sampling_interval=0.1)
    monitor.start()
    deadline = time.monotonic() + 10
    while monitor.step < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    monitor.finish()
    client.set_terminated(run_id)
    return run_id


def test_compare_folds_system_metrics_into_their_own_section(
    client: nbtrack.TrackingClient, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [_sampled_run(client, "a"), _sampled_run(client, "b")]
    panel = compare(ids, client=client)
    assert panel.metric_keys == ["loss"]
    assert "system/process_memory_rss_megabytes" in panel.system_keys
    assert panel.metric == "loss"  # the summary charts pick the run's own metric
    html = panel.html()
    count = len(panel.system_keys)
    section = html[html.index('<details class="nbtrack-system">') :]
    assert section.startswith(
        f'<details class="nbtrack-system"><summary>System ({count} metrics)</summary>'
    )
    assert "system/cpu_utilization_percentage" in section
    assert "system/cpu_utilization_percentage" not in html[: html.index("nbtrack-system")]
    if has_vl_convert():  # the headline chart, static, inside the folded section
        assert "<svg" in section[: section.index("</details>")]
    overlay = panel.charts()[0].to_dict()
    assert "vconcat" not in overlay  # one user metric: loss, no system keys
    system = panel.system_chart()
    assert system is not None
    charted = [c["title"] for c in system.to_dict()["vconcat"]]
    assert [k for k in charted if "/gpu_" not in k] == [
        "system/cpu_utilization_percentage",
        "system/process_cpu_percentage",
        "system/process_memory_rss_megabytes",
        "system/system_memory_usage_percentage",
    ]  # the headline keys (and gpu_0_* where NVML finds a GPU)
    root = panel.widget
    accordion = next(c for c in root.children if "nbtrack-system" in c._dom_classes)
    assert accordion.selected_index is None  # folded
    print(panel.text())
    out = capsys.readouterr().out
    assert "system metrics (last / min / max):" in out


def test_runs_without_system_metrics_have_no_section(client: nbtrack.TrackingClient) -> None:
    run = client.create_run("0")
    client.log_metric(run.info.run_id, "loss", 0.5)
    panel = compare([run.info.run_id], client=client)
    assert panel.system_keys == []
    assert "nbtrack-system" not in panel.html()
    assert panel.system_chart() is None
