"""The panels in a real browser: JupyterLab 4 in headless Debian chromium, driven by Playwright.

``test_panels_render_in_jupyterlab``: a notebook logs three runs (one named
``<img src=x onerror=alert(1)>``), shows ``nbtrack.ui.runs()`` and
``nbtrack.ui.metrics()``; the test asserts in the DOM
that the run names are text (no ``img`` made, no dialog), that the Vega chart
is drawn with no request leaving 127.0.0.1, and saves screenshots of both.

``test_compare_notebook_in_jupyterlab``: ``notebooks/compare.ipynb`` runs in
JupyterLab; the DOM must hold the run table's rows, the metric chart's line marks
and legend, the compare panel's params diff, charts and notebook diff (the added,
removed and changed cells), and the live chart must be redrawn while its loop
logs, its point count only growing, the last drawing holding every point.
Screenshots of each panel are saved (docs/screenshots/ holds the best ones).

Skipped as a whole when ``/usr/bin/chromium`` (Debian's ``chromium``),
``playwright`` or ``jupyterlab`` is missing (``.ci/run`` installs chromium,
``pip install 'nbtrack[browser]'`` the other two). Never ``playwright install``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from _compare_notebook import LIVE_STEPS, RUN_NAMES, index, read_compare
from _jupyter_browser import (
    KERNEL_IDLE,
    TIMEOUT_MS,
    dismiss_news,
    error_outputs,
    open_browser,
    run_all,
    skip_unless_browser,
    start_lab,
    write_notebook,
)

skip_unless_browser("ipywidgets", "altair")

pytestmark = pytest.mark.slow

EVIL = "<img src=x onerror=alert(1)>"
NOTEBOOK = "panels.ipynb"

CELLS = [
    f"""\
import nbtrack

client = nbtrack.TrackingClient()
experiment = client.create_experiment("browser")
ids = []
for i, name in enumerate(["run-0", "run-1", {EVIL!r}]):
    run = client.create_run(experiment, run_name=name)
    run_id = run.info.run_id
    client.log_batch(
        run_id,
        params=[("lr", str(0.1 * (i + 1)))],
        metrics=[("loss", 1.0 / (s + 1) + i, None, s) for s in range(20)],
    )
    client.set_terminated(run_id)
    ids.append(run_id)
len(ids)""",
    'import nbtrack.ui\n\nnbtrack.ui.runs(experiment="browser")',
    'nbtrack.ui.metrics(ids, "loss")',
]


def test_panels_render_in_jupyterlab(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    root.mkdir()
    write_notebook(root / NOTEBOOK, CELLS)
    shots = [tmp_path / "jupyterlab-runs-table.png", tmp_path / "jupyterlab-metrics-chart.png"]
    with start_lab(root) as lab, open_browser() as browser:
        page = browser.page
        page.goto(lab.notebook_url(NOTEBOOK))
        run_all(page, len(CELLS))

        cells = page.locator(".jp-NotebookPanel .jp-Cell")
        table = cells.nth(1).locator(".jp-OutputArea-output table")
        table.locator("td", has_text="run-1").first.wait_for()
        chart = cells.nth(2).locator(".jp-OutputArea-output .vega-embed")
        marks = chart.locator("svg, canvas")
        marks.first.wait_for()
        dismiss_news(page)
        cells.first.scroll_into_view_if_needed()
        page.screenshot(path=str(shots[0]))
        chart.scroll_into_view_if_needed()
        page.wait_for_timeout(500)  # let Vega finish drawing before the screenshot
        page.screenshot(path=str(shots[1]))
        where = f"(screenshots: {shots[0]} {shots[1]}, server log: {lab.log})"

        names = table.locator("tbody td").all_text_contents()
        assert {"run-0", "run-1", EVIL} <= set(names), f"run names missing: {names} {where}"
        assert table.locator("img").count() == 0, f"an img was made in the table {where}"
        assert page.locator('img[src="x"]').count() == 0, f"the evil img exists {where}"
        box = marks.first.bounding_box()
        assert box is not None, f"chart not laid out {where}"
        assert box["width"] > 100, f"chart not drawn: {box} {where}"
        assert box["height"] > 50, f"chart not drawn: {box} {where}"
        errors = error_outputs(page)
        assert errors == [], f"a cell raised: {errors} {where}"
        assert "VegaLite" not in cells.nth(2).inner_text(), f"chart shown as text {where}"
        page.wait_for_timeout(500)  # a late onerror would fire by now
        assert browser.dialogs == [], f"a dialog fired: {browser.dialogs} {where}"
        assert browser.external == [], f"requests left 127.0.0.1: {browser.external} {where}"
        assert all(s.stat().st_size > 0 for s in shots), f"empty screenshot {where}"


# Records, while the notebook runs, each new text summary of the live chart (cell
# ``index``, first output) and how many times its Vega SVG was drawn into the DOM.
WATCH_LIVE = """(index) => {
    const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
    const live = {texts: [], draws: 0};
    window.nbtrackLive = live;
    new MutationObserver((records) => {
        for (const record of records) {
            for (const node of record.addedNodes) {
                if (node.nodeType === 1 && (node.matches("svg.marks")
                        || node.querySelector("svg.marks"))) {
                    live.draws += 1;
                }
            }
        }
    }).observe(cell.node, {childList: true, subtree: true});
    setInterval(() => {
        const outputs = cell.model.outputs;
        const text = outputs.length ? String(outputs.get(0).data["text/plain"]) : null;
        if (text && live.texts[live.texts.length - 1] !== text) live.texts.push(text);
    }, 50);
}"""


def _points(summary: str) -> int:
    """The point count in a live chart's summary (``live NAME: loss: 37 points, last ...``)."""
    return int(summary.split("loss: ")[1].split(" points", maxsplit=1)[0])


def test_compare_notebook_in_jupyterlab(tmp_path: Path) -> None:
    nb = read_compare()
    root = tmp_path / "lab"
    root.mkdir()
    nbformat.write(nb, root / "compare.ipynb")
    at = {role: index(nb, role) for role in ("table", "chart", "compare", "live")}
    shots = tmp_path / "shots"
    shots.mkdir()
    with start_lab(root) as lab, open_browser(1300, 1000) as browser:
        page = browser.page
        page.goto(lab.notebook_url("compare.ipynb"))
        page.wait_for_function(KERNEL_IDLE, timeout=TIMEOUT_MS, polling=250)
        page.evaluate(WATCH_LIVE, at["live"])
        run_all(page, len(nb.cells))
        dismiss_news(page)
        where = f"(screenshots: {shots}, server log: {lab.log})"
        assert error_outputs(page) == [], f"a cell raised {where}"
        cells = page.locator(".jp-NotebookPanel .jp-Cell")

        table = cells.nth(at["table"]).locator(".jp-OutputArea-output table")
        table.locator("td", has_text="no dropout").first.wait_for()
        names = set(table.locator("tbody td").all_text_contents())
        assert set(RUN_NAMES) <= names, f"runs missing from the table: {names} {where}"
        checks = cells.nth(at["table"]).locator("input[type=checkbox]")
        checks.nth(len(RUN_NAMES) - 1).wait_for()  # the row checkboxes come with the next sync
        cells.nth(at["table"]).screenshot(path=str(shots / "run-table.png"))

        chart = cells.nth(at["chart"]).locator(".vega-embed svg.marks")
        chart.wait_for()
        lines = chart.locator(".mark-line path")
        assert lines.count() == 2 * len(RUN_NAMES), f"one raw + one EMA line per run {where}"
        legend = set(chart.locator(".role-legend text").all_text_contents())
        assert set(RUN_NAMES) <= legend, f"legend: {legend} {where}"
        cells.nth(at["chart"]).screenshot(path=str(shots / "metric-chart.png"))

        compare = cells.nth(at["compare"])
        compare.locator(".nbtrack-compare").first.wait_for()
        assert compare.locator(".vega-embed svg.marks").count() == 3, f"compare charts {where}"
        rows = compare.locator(".nbtrack-params-differ tr.differs td:first-child")
        differ = rows.all_text_contents()
        assert differ == ["dropout", "lr"], f"params that differ: {differ} {where}"
        head = compare.locator(".nbtrack-params-differ th").all_text_contents()
        assert head == ["param", *RUN_NAMES], f"params header: {head} {where}"
        diff = compare.locator(".nbtrack-compare").last
        summary = diff.text_content() or ""
        assert "1 added, 1 removed, 1 changed source" in summary, f"{summary} {where}"
        added = diff.locator('[data-change="added"]').text_content() or ""
        removed = diff.locator('[data-change="removed"]').text_content() or ""
        changed = diff.locator('[data-change="source"]').text_content() or ""
        assert "augment(x, flips=True)" in added, f"added cell: {added} {where}"
        assert "print(model)" in removed, f"removed cell: {removed} {where}"
        assert "-lr_at = lambda step: lr" in changed, f"changed cell: {changed} {where}"
        assert "+lr_at = lambda step: lr * 0.98 ** step" in changed, f"{changed} {where}"
        page.set_viewport_size({"width": 1300, "height": 2800})  # the whole panel in view
        page.wait_for_timeout(500)  # let Vega redraw at the new size
        compare.screenshot(path=str(shots / "compare-panel.png"))
        diff.screenshot(path=str(shots / "notebook-diff.png"))
        page.set_viewport_size({"width": 1300, "height": 1000})

        live = cells.nth(at["live"])
        live.locator(".vega-embed svg.marks .mark-line path").first.wait_for()
        watched = page.evaluate("() => window.nbtrackLive")
        counts = [_points(text) for text in watched["texts"]]
        assert len(counts) >= 3, f"the live chart was not updated while logging: {watched}"
        assert counts == sorted(set(counts)), f"point counts must only grow: {counts}"
        assert counts[-1] == LIVE_STEPS, f"last drawing misses points: {counts}"
        assert watched["draws"] >= 3, f"the live chart was drawn {watched['draws']} times"
        live.screenshot(path=str(shots / "live-chart.png"))

        assert browser.dialogs == [], f"a dialog fired: {browser.dialogs} {where}"
        assert browser.external == [], f"requests left 127.0.0.1: {browser.external} {where}"
