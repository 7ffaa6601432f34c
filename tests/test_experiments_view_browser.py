"""The Experiments view of the JupyterLab extension in a real browser.

A store of 40 runs (params lr / opt / seed, histories of loss and acc, two of them
with notebook snapshots that differ) is served by a real ``jupyter lab`` with the
nbtrack server extension; headless Debian chromium drives it through Playwright,
by keyboard where a user could:

1. ``nbtrack:open-experiments`` (the palette command; the sidebar's button too)
   opens the view: a row per run, the metric columns;
2. a bad filter shows the server's message under the box, a good one narrows the
   table; sorting by a metric header orders the runs; the column chooser adds a
   param column; grouping by ``opt`` shows a header per value;
3. arrows and Space select runs; the Charts tab (reached with ArrowRight) draws
   every metric with the selected runs overlaid; log scale and smoothing redraw;
4. the Compare tab shows the params that differ, parallel coordinates with a line
   per run, and the notebook diff of the two snapshot runs;
5. the same in the dark theme.

No request may leave 127.0.0.1; a run name holding HTML stays text. Screenshots go
to the test's tmp directory; with ``NBTRACK_SCREENSHOTS_DIR`` set they are copied
there (``NBTRACK_SCREENSHOTS_DIR=docs/screenshots pytest tests/test_experiments_view_browser.py``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pytest

from _jupyter_browser import skip_unless_browser

skip_unless_browser()

from _jupyter_browser import dismiss_news, open_browser, start_lab  # noqa: E402
from _lab_helpers import skip_unless_labextension  # noqa: E402

skip_unless_labextension()

import nbtrack  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow

EVIL = "<img src=x onerror=alert(1)>"
SHOTS = (
    "experiments-runs.png",
    "experiments-charts.png",
    "experiments-compare.png",
    "experiments-charts-dark.png",
)
COMMAND = "async ([id, args]) => { await window.jupyterapp.commands.execute(id, args); }"


def _snapshot(path: Path, sources: list[str]) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def fill_store(client: nbtrack.TrackingClient, tmp: Path) -> dict[str, Any]:
    """40 runs in experiment "sweep"; returns the ids of interest."""
    exp = client.create_experiment("sweep")
    ids = []
    for i in range(40):
        name = EVIL if i == 7 else f"trial-{i:02d}"
        run_id = client.create_run(exp, run_name=name, start_time=1_700_000_000_000 + i).info.run_id
        lr = [0.001, 0.01, 0.1, 0.3][i % 4]
        t0 = 1_700_000_000_000
        loss = [(2.0 * (1 - lr) / (s + 1) + 0.01 * (i % 5), t0 + 1000 * s, s) for s in range(30)]
        acc = [(1 - 0.5 / (s + 1) - lr / 10, t0 + 1000 * s, s) for s in range(30)]
        client.log_batch(
            run_id,
            params=[("lr", str(lr)), ("opt", ["adam", "sgd"][i % 2]), ("seed", str(i)),
                    ("epochs", "30")],
            metrics=[("loss", *p) for p in loss] + [("acc", *p) for p in acc],
        )  # fmt: skip
        client.set_terminated(run_id, end_time=1_700_000_000_000 + 30_000 + 1000 * i)
        ids.append(run_id)
    old = _snapshot(tmp / "a" / "notebook.ipynb", ["lr = 0.01", "train(lr)", "plot()"])
    new = _snapshot(tmp / "b" / "notebook.ipynb", ["lr = 0.1", "train(lr)", "evaluate()"])
    client.log_artifact(ids[1], old)
    client.log_artifact(ids[2], new)
    client.flush()
    return {"ids": ids}


def command(page: Page, command_id: str, args: dict[str, Any] | None = None) -> None:
    page.evaluate(COMMAND, [command_id, args or {}])


def view_rows(page: Page) -> list[str]:
    """The run ids of the table rows in the DOM, top to bottom."""
    return page.eval_on_selector_all(
        ".nbtrack-experiments-view .nbtrack-xp-run", "rows => rows.map(r => r.dataset.runId)"
    )


def test_experiments_view(tmp_path: Path, client: nbtrack.TrackingClient) -> None:
    data = fill_store(client, tmp_path / "files")
    ids = data["ids"]
    root = tmp_path / "lab"
    root.mkdir()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    # The theme switch below writes user settings: keep them in the test's directory.
    settings = {"JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")}
    with start_lab(root, env=settings) as lab, open_browser(1500, 950) as browser:
        page = browser.page
        where = f"(screenshots in {shots}, server log {lab.log})"
        page.goto(f"{lab.url}/lab?token={lab.token}")
        page.wait_for_function("() => !!window.jupyterapp", polling=250)
        page.locator("#nbtrack-sidebar").wait_for(state="attached")
        dismiss_news(page)

        # 1. The palette command opens the view with every run.
        command(page, "nbtrack:open-experiments")
        view = page.locator(".nbtrack-experiments-view")
        view.locator(".nbtrack-xp-count", has_text="40 runs").wait_for()
        # Virtualized: every run counts as a row, only those in sight are in the DOM.
        grid = view.locator(".nbtrack-xp-body")
        assert grid.get_attribute("aria-rowcount") == "40", where
        assert 20 <= len(view_rows(page)) < 40, where
        header = view.locator(".nbtrack-xp-header")
        for column in ("Run", "Status", "loss", "acc", "lr", "opt", "seed"):
            assert header.get_by_role("button", name=column, exact=True).count() == 1, column
        assert header.get_by_role("button", name="epochs", exact=True).count() == 0, where
        assert view.locator(".nbtrack-xp-name", has_text=EVIL).count() == 1, where

        # 2. Filter: a bad one shows the server's message under the box, keeps the runs.
        box = view.locator(".nbtrack-xp-filter")
        box.fill("metrics.loss >")
        box.press("Enter")
        error = view.locator(".nbtrack-filter-error")
        error.wait_for()
        assert "metrics.loss" in error.inner_text(), where
        assert grid.get_attribute("aria-rowcount") == "40", where
        box.fill("params.opt = 'adam'")
        box.press("Enter")
        view.locator(".nbtrack-xp-count", has_text="20 runs").wait_for()
        assert error.is_hidden(), where
        box.fill("")
        box.press("Enter")
        view.locator(".nbtrack-xp-count", has_text="40 runs").wait_for()

        # Sort by a metric with the keyboard: ascending after two presses.
        loss = header.get_by_role("button", name="loss", exact=True)
        loss.focus()
        page.keyboard.press("Enter")  # metrics sort descending first
        page.keyboard.press("Enter")
        assert header.locator('[aria-sort="ascending"]').count() == 1, where
        shown = view_rows(page)
        losses = {i: client.get_run(i).data.metrics["loss"] for i in ids}
        assert [losses[i] for i in shown] == sorted(losses.values())[: len(shown)], where

        # Column chooser: add "epochs".
        view.locator(".nbtrack-xp-columns > summary").click()
        view.locator('.nbtrack-xp-columns input[data-column="param:epochs"]').check()
        assert header.get_by_role("button", name="epochs", exact=True).count() == 1, where
        view.locator(".nbtrack-xp-columns > summary").click()

        # Group by opt: a header per value.
        view.locator(".nbtrack-xp-group-by").select_option("opt")
        groups = view.locator(".nbtrack-xp-group")
        assert groups.count() == 2, where
        assert "opt = adam (20)" in groups.first.inner_text(), where
        view.locator(".nbtrack-xp-group-by").select_option("")

        # 3. Keyboard selection: three runs (rows 1..3 of the sorted table).
        grid.focus()
        for _ in range(3):
            page.keyboard.press("Space")
            page.keyboard.press("ArrowDown")
        selected = page.eval_on_selector_all(
            ".nbtrack-xp-run.nbtrack-mod-selected", "rows => rows.map(r => r.dataset.runId)"
        )
        assert selected == shown[:3], where
        view.locator(".nbtrack-xp-selection", has_text="3 selected").wait_for()
        # Also select the two runs with snapshots (click), for the compare tab.
        box.fill(f"attributes.run_id IN ('{ids[1]}', '{ids[2]}')")
        box.press("Enter")
        view.locator(".nbtrack-xp-count", has_text="2 runs").wait_for()
        for run_id in (ids[2], ids[1]):
            if run_id not in selected:
                view.locator(f'.nbtrack-xp-run[data-run-id="{run_id}"]').click()
        box.fill("")
        box.press("Enter")
        view.locator(".nbtrack-xp-count", has_text="40 runs").wait_for()
        page.screenshot(path=str(shots / "experiments-runs.png"))

        # Charts, reached by keyboard from the tab list.
        view.locator('.nbtrack-xp-tab[data-tab="runs"]').focus()
        page.keyboard.press("ArrowRight")
        charts = view.locator(".nbtrack-xp-charts")
        charts.locator(".nbtrack-xp-chart-status", has_text="2 metrics of").wait_for()
        figures = charts.locator(".nbtrack-xp-chart")
        assert figures.count() == 2, where
        n = len(set(selected) | {ids[1], ids[2]})
        for figure in figures.all():
            assert int(figure.get_attribute("data-points") or 0) == 30 * n, where
            label = figure.locator("canvas").get_attribute("aria-label") or ""
            assert f"{n} runs" in label, label
        assert charts.locator(".nbtrack-xp-legend li").count() == n, where
        painted = page.evaluate(
            """() => { const c = document.querySelector('.nbtrack-xp-canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""
        )
        assert painted > 1000, f"the chart is blank {where}"
        charts.locator(".nbtrack-xp-log").check()
        assert "(log scale)" in (figures.first.locator("canvas").get_attribute("aria-label") or "")
        charts.locator(".nbtrack-xp-smoothing").fill("0.6")
        charts.locator(".nbtrack-xp-x").select_option("relative")
        page.screenshot(path=str(shots / "experiments-charts.png"))

        # 4. Compare tab.
        view.locator('.nbtrack-xp-tab[data-tab="charts"]').focus()
        page.keyboard.press("ArrowRight")
        compare = view.locator(".nbtrack-xp-compare")
        compare.locator(".nbtrack-xp-compare-status", has_text="params differ").wait_for()
        differ = compare.locator(".nbtrack-xp-params-differ tbody tr")
        assert {r.get_attribute("data-param") for r in differ.all()} >= {"lr", "seed"}, where
        assert compare.locator(".nbtrack-xp-parallel-line").count() == n, where
        pick_from = compare.get_by_label("Diff from run")
        pick_to = compare.get_by_label("Diff to run")
        pick_from.select_option(ids[1])
        pick_to.select_option(ids[2])
        compare.locator(".nbtrack-xp-diff-summary", has_text="notebook.ipynb").wait_for()
        summary = compare.locator(".nbtrack-xp-diff-summary").inner_text()
        assert summary.startswith("0 added, 0 removed, 2 changed source"), summary
        assert compare.locator(".nbtrack-xp-line-added", has_text="evaluate()").count() == 1
        page.screenshot(path=str(shots / "experiments-compare.png"))

        # 5. Dark theme: the charts redraw with the theme's colours.
        command(page, "apputils:change-theme", {"theme": "JupyterLab Dark"})
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", polling=250)
        view.locator('.nbtrack-xp-tab[data-tab="charts"]').click()
        charts.locator(".nbtrack-xp-chart").first.wait_for()
        page.wait_for_timeout(300)
        page.screenshot(path=str(shots / "experiments-charts-dark.png"))

        assert page.locator('img[src="x"]').count() == 0, f"the evil img exists {where}"
        assert browser.dialogs == [], f"a dialog fired: {browser.dialogs} {where}"
        assert browser.external == [], f"requests left 127.0.0.1: {browser.external} {where}"

    for name in SHOTS:
        assert (shots / name).stat().st_size > 0, f"empty screenshot {name}"
    print(f"screenshots: {shots}")
    docs = os.environ.get("NBTRACK_SCREENSHOTS_DIR")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        for name in SHOTS:
            shutil.copyfile(shots / name, Path(docs) / name)
    json.dumps(ids)
