"""The panels in a real browser: JupyterLab 4 in headless Debian chromium, driven by Playwright.

A notebook logs three runs (one named ``<img src=x onerror=alert(1)>``), shows
``nbtrack.ui.runs()`` and ``nbtrack.ui.metrics()``; the test asserts in the DOM
that the run names are text (no ``img`` made, no dialog), that the Vega chart
is drawn with no request leaving 127.0.0.1, and saves screenshots of both.

Skipped as a whole when ``/usr/bin/chromium`` (Debian's ``chromium``),
``playwright`` or ``jupyterlab`` is missing (``.ci/run`` installs chromium,
``pip install 'nbtrack[browser]'`` the other two). Never ``playwright install``.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("browser test needs Debian chromium at /usr/bin/chromium", allow_module_level=True)
for _module in ("playwright.sync_api", "jupyterlab", "ipywidgets", "altair"):
    pytest.importorskip(_module, reason=f"browser test needs {_module.split('.')[0]}")

from jupyter_server.serverapp import ServerApp  # noqa: E402 - after the skip checks
from playwright.sync_api import Page, Request, Route, sync_playwright  # noqa: E402

pytestmark = pytest.mark.slow

EVIL = "<img src=x onerror=alert(1)>"
NOTEBOOK = "panels.ipynb"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
TIMEOUT_MS = 90_000

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


@dataclass
class Lab:
    """A running JupyterLab: where it listens, its token and the notebook's folder."""

    url: str
    token: str
    root: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _write_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local URL
            return response.status == 200 and "started" in json.loads(response.read())
    except OSError:
        return False


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """JupyterLab on a free 127.0.0.1 port, token auth, rooted at ``tmp_path``."""
    root = tmp_path / "lab"
    root.mkdir()
    _write_notebook(root / NOTEBOOK)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env["NBTRACK_TRACKING_URI"] = str(tmp_path / ".nbtrack")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    args = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if "allow_unauthenticated_access" in ServerApp.class_trait_names():
        args.append("--ServerApp.allow_unauthenticated_access=False")
    log = tmp_path / "jupyterlab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _answers(f"{url}/api/status?token={token}"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield Lab(url, token, root, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


KERNEL_IDLE = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
        && panel.sessionContext.session.kernel;
    return !!kernel && kernel.status === "idle";
}"""

ALL_EXECUTED = """(n) => {
    const panel = window.jupyterapp.shell.currentWidget;
    const kernel = panel.sessionContext.session.kernel;
    const cells = Array.from(panel.content.model.cells);
    return kernel.status === "idle" && cells.length === n
        && cells.every((cell) => cell.executionCount !== null);
}"""

ERROR_OUTPUTS = """() => {
    const cells = Array.from(window.jupyterapp.shell.currentWidget.content.model.cells);
    return cells.flatMap((cell) => Array.from({length: cell.outputs.length},
        (_, i) => cell.outputs.get(i).toJSON()))
        .filter((out) => out.output_type === "error").map((out) => out.ename);
}"""


def _run_all(page: Page) -> None:
    page.wait_for_function(KERNEL_IDLE, timeout=TIMEOUT_MS, polling=250)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(ALL_EXECUTED, arg=len(CELLS), timeout=TIMEOUT_MS, polling=250)


def test_panels_render_in_jupyterlab(lab: Lab, tmp_path: Path) -> None:
    dialogs: list[str] = []
    external: list[str] = []

    def route(route: Route, request: Request) -> None:
        if urlparse(request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            external.append(request.url)
            route.abort()

    shots = [tmp_path / "jupyterlab-runs-table.png", tmp_path / "jupyterlab-metrics-chart.png"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1400, "height": 1000}, service_workers="block"
            )
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.route("**/*", route)
            page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
            _run_all(page)

            cells = page.locator(".jp-NotebookPanel .jp-Cell")
            table = cells.nth(1).locator(".jp-OutputArea-output table")
            table.locator("td", has_text="run-1").first.wait_for()
            chart = cells.nth(2).locator(".jp-OutputArea-output .vega-embed")
            marks = chart.locator("svg, canvas")
            marks.first.wait_for()
            news = page.get_by_role("button", name="No", exact=True)
            if news.is_visible():  # JupyterLab's "official Jupyter news?" toast
                news.click()
            cells.first.scroll_into_view_if_needed()
            page.screenshot(path=str(shots[0]))
            chart.scroll_into_view_if_needed()
            page.wait_for_timeout(500)  # let Vega finish drawing before the screenshot
            page.screenshot(path=str(shots[1]))
            where = f"(screenshots: {shots[0]} {shots[1]}, server log: {lab.log})"

            names = table.locator("tbody td").all_inner_texts()
            assert {"run-0", "run-1", EVIL} <= set(names), f"run names missing: {names} {where}"
            assert table.locator("img").count() == 0, f"an img was made in the table {where}"
            assert page.locator('img[src="x"]').count() == 0, f"the evil img exists {where}"
            box = marks.first.bounding_box()
            assert box is not None, f"chart not laid out {where}"
            assert box["width"] > 100, f"chart not drawn: {box} {where}"
            assert box["height"] > 50, f"chart not drawn: {box} {where}"
            errors = page.evaluate(ERROR_OUTPUTS)
            assert errors == [], f"a cell raised: {errors} {where}"
            assert "VegaLite" not in cells.nth(2).inner_text(), f"chart shown as text {where}"
            page.wait_for_timeout(500)  # a late onerror would fire by now
            assert dialogs == [], f"a dialog fired: {dialogs} {where}"
            assert external == [], f"requests left 127.0.0.1: {external} {where}"
            assert all(s.stat().st_size > 0 for s in shots), f"empty screenshot {where}"
        finally:
            browser.close()
