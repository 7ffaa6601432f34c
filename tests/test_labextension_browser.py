"""The JupyterLab extension in a real browser: toolbar, status bar, sidebar, run view, snapshot.

JupyterLab with the nbtrack server extension and ``jupyterlab-nbtrack`` runs on
127.0.0.1 (token auth, ``allow_unauthenticated_access=False``); headless Debian
chromium drives it through Playwright. One notebook, one story:

1. the toolbar button starts a run: the status bar shows it, the sidebar lists
   it as running;
2. a cell logs metrics: the status bar shows the last one;
3. an unsaved edit reaches the kernel: the snapshot the kernel stores
   (``nbtrack:snapshot``) holds it while the file on disk does not;
4. ``%track end``: the sidebar shows the run finished;
5. the run view: params from the ``parameters`` cell, a drawn chart, the cells;
6. a run named ``<img src=x onerror=alert(1)>`` (started with system metrics)
   is text everywhere, no dialog; the status bar shows the kernel's CPU and RSS
   from the run's ``system/`` metrics.

No request may leave 127.0.0.1. Screenshots go to the test's tmp directory;
with ``NBTRACK_SCREENSHOTS_DIR`` set, the two for the docs are copied there
(``NBTRACK_SCREENSHOTS_DIR=docs/screenshots pytest tests/test_labextension_browser.py``).
Skipped when chromium, Playwright, JupyterLab or the built extension is missing
(``pip install -e .`` builds and installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pytest

from _jupyter_browser import skip_unless_browser

skip_unless_browser()

from _jupyter_browser import (  # noqa: E402 - after the skip checks
    KERNEL_IDLE,
    Lab,
    dismiss_news,
    error_outputs,
    open_browser,
    start_lab,
    write_notebook,
)
from _lab_helpers import skip_unless_labextension  # noqa: E402

skip_unless_labextension()

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.slow

EVIL = "<img src=x onerror=alert(1)>"
NOTEBOOK = "train.ipynb"
MARKER = "edited_in_the_browser_not_saved = 1"
#: The screenshots worth showing in the docs, copied to $NBTRACK_SCREENSHOTS_DIR when set.
DOCS_SCREENSHOTS = ("statusbar-sidebar-running.png", "run-view.png")

CELLS = [
    "lr = 0.1\nepochs = 6",  # tagged "parameters"; never run: its literals are the params
    "import nbtrack\n\n"
    "for step in range(6):\n"
    "    nbtrack.log_metric('loss', 1.0 / (step + 1), step=step)\n"
    "nbtrack.log_metric('accuracy', 0.875)",
    "# scratch",
    "%track end",
    f"%track start --system-metrics {EVIL!r}",
]

RUN_CELL = """async (index) => {
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    panel.content.activeCellIndex = index;
    await app.commands.execute('notebook:run-cell');
}"""

CELL_DONE = """(index) => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cell = panel.content.model.cells.get(index);
    return panel.sessionContext.session.kernel.status === 'idle'
        && cell.executionCount !== null;
}"""

COMMAND = "async ([id, args]) => { await window.jupyterapp.commands.execute(id, args); }"

ACTIVATE_NOTEBOOK = """() => {
    const app = window.jupyterapp;
    const panel = Array.from(app.shell.widgets('main'))
        .find((w) => w.hasClass('jp-NotebookPanel'));
    app.shell.activateById(panel.id);
}"""


def write_tagged_notebook(path: Path) -> None:
    write_notebook(path, CELLS)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(notebook, path)


def run_cell(page: Page, index: int) -> None:
    """Run cell ``index`` of the open notebook and wait until it ran and the kernel is idle."""
    page.evaluate(RUN_CELL, index)
    page.wait_for_function(CELL_DONE, arg=index, polling=250)


def command(page: Page, command_id: str, args: dict[str, Any] | None = None) -> None:
    page.evaluate(COMMAND, [command_id, args or {}])


def widen_left_panel(page: Page, pixels: int) -> None:
    """Drag the handle between the left area and the main area ``pixels`` to the right."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    if box is None:  # a layout without the handle: keep the default width
        return
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + pixels, y, steps=5)
    page.mouse.up()


def rest(lab: Lab, path: str) -> Any:
    """``GET {base}nbtrack/api/{path}`` with the server's token; the JSON answer."""
    request = urllib.request.Request(  # noqa: S310 - the local server's URL
        f"{lab.url}/nbtrack/api/{path}", headers={"Authorization": f"token {lab.token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - as above
        return json.loads(response.read())


def sources(notebook: dict[str, Any]) -> str:
    return "\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in notebook["cells"]
    )


def row(page: Page, run_id: str) -> Locator:
    return page.locator(f'#nbtrack-sidebar tr.nbtrack-run-row[data-run-id="{run_id}"]')


def test_labextension_in_jupyterlab(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    root.mkdir()
    write_tagged_notebook(root / NOTEBOOK)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with start_lab(root) as lab, open_browser(1500, 950) as browser:
        page = browser.page
        where = f"(screenshots in {shots}, server log {lab.log})"
        page.goto(lab.notebook_url(NOTEBOOK))
        page.wait_for_function(KERNEL_IDLE, polling=250)
        dismiss_news(page)

        # 1. The toolbar button starts a run (loading nbtrack in the kernel first).
        page.locator(".jp-NotebookPanel-toolbar .nbtrack-toolbar-start").first.click()
        status = page.locator(".nbtrack-status-item[data-run-id]")
        status.wait_for()
        run_id = status.get_attribute("data-run-id")
        assert run_id, where
        run_name = status.locator(".nbtrack-status-run").inner_text()
        assert run_name, f"no run name in the status bar {where}"

        # 2. Metrics: the status bar polls the run and shows the last one logged.
        run_cell(page, 1)
        last_metric = re.compile(r"(loss|accuracy)=\S+ \(step \d+\)")
        status.locator(".nbtrack-status-metric", has_text=last_metric).wait_for()

        command(page, "nbtrack:open-runs")
        widen_left_panel(page, 180)  # for the screenshot: the run table's metric columns
        running = row(page, run_id)
        running.and_(page.locator('[data-status="running"]')).wait_for()
        assert running.locator(".nbtrack-run-name").inner_text() == run_name, where
        page.screenshot(path=str(shots / "statusbar-sidebar-running.png"))

        # 3. An unsaved edit: the kernel's snapshot has it, the file does not.
        editor = page.locator(".jp-NotebookPanel .jp-Cell").nth(2).locator(".cm-content")
        editor.click()
        page.keyboard.press("Control+End")
        page.keyboard.type(f"\n{MARKER}")
        command(page, "nbtrack:snapshot")
        snapshot = rest(lab, f"runs/{run_id}/snapshot?notebook={NOTEBOOK}")
        assert MARKER in sources(snapshot), f"the snapshot lacks the unsaved edit {where}"
        assert MARKER not in (root / NOTEBOOK).read_text(), f"the edit was saved {where}"
        tags = rest(lab, f"runs/{run_id}?notebook={NOTEBOOK}")["run"]["tags"]
        assert tags["nbtrack.snapshot.source"] == "live", f"{tags} {where}"

        # 4. %track end: the sidebar shows the run finished.
        run_cell(page, 3)
        row(page, run_id).and_(page.locator('[data-status="finished"]')).wait_for()
        page.locator(".nbtrack-status-item[data-run-id]").wait_for(state="detached")

        # 5. The run view: params, a chart drawn, the timeline of cells.
        row(page, run_id).click()
        view = page.locator(f'.nbtrack-run-view[data-run-id="{run_id}"]')
        params = view.locator(".nbtrack-params")
        params.locator("td", has_text="epochs").wait_for()
        param_rows = params.locator("tbody tr").all_inner_texts()
        assert [" ".join(r.split()) for r in param_rows] == ["epochs 6", "lr 0.1"], where
        marks = view.locator(".nbtrack-chart").first.locator("svg, canvas").first
        marks.wait_for()
        cells = view.locator(".nbtrack-timeline-cell")
        cells.first.wait_for()
        timeline = cells.all_inner_texts()
        assert any("log_metric" in text for text in timeline), f"timeline: {timeline} {where}"
        page.wait_for_timeout(500)  # let Vega finish drawing before measuring and the shot
        box = marks.bounding_box()
        assert box is not None, f"chart not laid out {where}"
        assert box["width"] > 100, f"chart not drawn: {box} {where}"
        assert box["height"] > 50, f"chart not drawn: {box} {where}"
        page.screenshot(path=str(shots / "run-view.png"))

        # 6. A run name that is HTML stays text: status bar, sidebar, run view.
        page.evaluate(ACTIVATE_NOTEBOOK)
        run_cell(page, 4)
        evil_status = page.locator(".nbtrack-status-item[data-run-id]")
        evil_status.locator(".nbtrack-status-run", has_text=EVIL).wait_for()
        evil_id = evil_status.get_attribute("data-run-id")
        assert evil_id, where
        assert evil_id != run_id, where
        # The run samples system metrics: a cell ending a second after the start
        # takes a sample; the status bar shows the kernel's latest use (setting
        # showSystemUsage, on by default), and its last metric is none of them.
        page.wait_for_timeout(1200)
        run_cell(page, 2)
        usage = evil_status.locator(
            ".nbtrack-status-usage", has_text=re.compile(r"^CPU \d+% · RSS \d[\d.]* [MG]B")
        )
        usage.wait_for()
        assert "system/" not in evil_status.locator(".nbtrack-status-metric").inner_text(), where
        page.screenshot(path=str(shots / "statusbar-system-usage.png"))
        evil_row = row(page, evil_id)
        evil_row.wait_for()
        assert evil_row.locator(".nbtrack-run-name").inner_text() == EVIL, where
        evil_row.click()
        evil_view = page.locator(f'.nbtrack-run-view[data-run-id="{evil_id}"]')
        evil_view.locator(".nbtrack-run-name", has_text=EVIL).wait_for()
        page.screenshot(path=str(shots / "evil-run-name.png"))
        page.wait_for_timeout(500)  # a late onerror would fire by now
        assert page.locator('img[src="x"]').count() == 0, f"the evil img exists {where}"
        assert browser.dialogs == [], f"a dialog fired: {browser.dialogs} {where}"
        page.evaluate(ACTIVATE_NOTEBOOK)
        assert error_outputs(page) == [], where
        assert browser.external == [], f"requests left 127.0.0.1: {browser.external} {where}"

    for name in DOCS_SCREENSHOTS:
        assert (shots / name).stat().st_size > 0, f"empty screenshot {name} {where}"
    print(f"screenshots: {shots}")
    docs = os.environ.get("NBTRACK_SCREENSHOTS_DIR")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        for name in DOCS_SCREENSHOTS:
            shutil.copyfile(shots / name, Path(docs) / f"labextension-{name}")


def test_status_bar_system_usage_setting_off(tmp_path: Path) -> None:
    """``showSystemUsage: false`` hides the kernel's usage though the run logs it."""
    root = tmp_path / "lab"
    root.mkdir()
    write_notebook(
        root / NOTEBOOK,
        [
            "%load_ext nbtrack\n%track start --system-metrics quiet",
            "import nbtrack\nnbtrack.log_metric('after_sample', 1.0)",
        ],
    )
    settings = tmp_path / "user-settings"
    (settings / "jupyterlab-nbtrack").mkdir(parents=True)
    (settings / "jupyterlab-nbtrack" / "plugin.jupyterlab-settings").write_text(
        json.dumps({"showSystemUsage": False})
    )
    with (
        start_lab(root, f"--LabApp.user_settings_dir={settings}") as lab,
        open_browser(1200, 800) as browser,
    ):
        page = browser.page
        where = f"(server log {lab.log})"
        page.goto(lab.notebook_url(NOTEBOOK))
        page.wait_for_function(KERNEL_IDLE, polling=250)
        dismiss_news(page)
        run_cell(page, 0)
        status = page.locator(".nbtrack-status-item[data-run-id]")
        status.wait_for()
        run_id = status.get_attribute("data-run-id")
        assert run_id, where
        page.wait_for_timeout(1200)  # a cell ending a second after the start takes a sample
        run_cell(page, 1)
        status.locator(".nbtrack-status-metric", has_text="after_sample=1").wait_for()
        detail: dict[str, Any] = {}
        for _ in range(40):  # the sampler thread logs right after the cell
            detail = rest(lab, f"runs/{run_id}?notebook={NOTEBOOK}")
            if "system/process_cpu_percentage" in detail["run"]["metrics_detail"]:
                break
            page.wait_for_timeout(250)
        assert "system/process_cpu_percentage" in detail["run"]["metrics_detail"], where
        page.wait_for_timeout(4500)  # two polls of the status item after the sample
        assert status.locator(".nbtrack-status-usage").inner_text() == "", where
        assert "system/" not in status.locator(".nbtrack-status-metric").inner_text(), where
