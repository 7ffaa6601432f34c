"""notebooks/compare.ipynb headless, then exported with ``jupyter nbconvert --to html``.

The notebook runs top to bottom in a real kernel (nbclient), with a 4th run named
``<img src=x onerror=alert(1)>`` injected after its ``parameters`` cell; the test
checks what it logged and what each panel output carries. The executed notebook
is saved as JupyterLab saves it (no widget state) and converted by the real
``jupyter nbconvert`` CLI; the HTML is opened in headless chromium with every
network request blocked: every chart must be drawn (static SVG images decoded by
the browser), the run table and compare panel present as static HTML, and the
payload shown as text, never run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import nbtrack
from _compare_notebook import LIVE_STEPS, RUN_NAMES, cell, execute, read_compare
from _jupyter_browser import open_browser, skip_unless_browser

skip_unless_browser("ipywidgets", "altair", "vl_convert", "nbconvert")

pytestmark = pytest.mark.slow

EVIL = "<img src=x onerror=alert(1)>"
VEGALITE_V5 = "application/vnd.vegalite.v5+json"
WIDGET = "application/vnd.jupyter.widget-view+json"

# Every <img> in the page: whether the browser decoded it, and its size.
IMAGES = """() => Array.from(document.querySelectorAll("img")).map((img) => ({
    cls: img.className, complete: img.complete, width: img.naturalWidth,
    height: img.naturalHeight, src: img.getAttribute("src").slice(0, 30)}))"""


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The executed notebook's path and its store (one kernel run for the module)."""
    work = tmp_path_factory.mktemp("compare")
    nb = read_compare(extra_run=EVIL)
    execute(nb, work, work / ".nbtrack")
    path = work / "compare-executed.ipynb"
    nbformat.write(nb, path)
    return path, work / ".nbtrack"


def _data(nb: nbformat.NotebookNode, role: str) -> list[dict[str, object]]:
    return [dict(o.get("data", {})) for o in cell(nb, role).outputs if "data" in o]


def test_compare_notebook_runs_headless(executed: tuple[Path, Path]) -> None:
    path, store = executed
    nb = nbformat.read(path, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    client = nbtrack.TrackingClient(store)
    experiment = client.get_experiment_by_name("compare")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    assert [r.info.run_name for r in runs] == [*RUN_NAMES, EVIL, "live"]
    assert all(r.info.status == "FINISHED" for r in runs)
    assert len(client.get_metric_history(runs[-1].info.run_id, "loss")) == LIVE_STEPS

    (table,) = _data(nb, "table")
    assert WIDGET in table
    (chart,) = _data(nb, "chart")
    assert chart[VEGALITE_V5]["$schema"].endswith("v5.20.1.json")  # type: ignore[index]
    svg = str(chart["image/svg+xml"])
    assert svg.startswith("<svg")
    assert EVIL not in svg  # the legend's run name is XML-escaped text
    assert "&lt;img src=x onerror=alert(1)&gt;" in svg
    head, *charts, diff = _data(nb, "compare")
    assert len(charts) == 3  # overlay, parallel coordinates, scatter
    assert all(VEGALITE_V5 in c and "image/svg+xml" in c for c in charts)
    assert 'class="nbtrack-params-differ"' in str(head["text/html"])
    assert EVIL not in str(head["text/html"])
    html = str(diff["text/html"])
    for kind in ("added", "removed", "source"):
        assert f'data-change="{kind}"' in html
    assert "1 added, 1 removed, 1 changed source" in html
    live, redraws = _data(nb, "live")
    assert f"loss: {LIVE_STEPS} points" in str(live["text/plain"])
    assert "image/svg+xml" in live  # the final drawing carries the static copy
    assert int(str(redraws["text/plain"])) >= 2


def test_export_to_html_renders_offline_and_escapes(
    executed: tuple[Path, Path], tmp_path: Path
) -> None:
    path, _ = executed
    out = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", f"--output-dir={tmp_path}", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    html_path = tmp_path / "compare-executed.html"
    html = html_path.read_text()
    assert EVIL not in html, "the payload is in the HTML unescaped"
    shot = tmp_path / "export.png"
    with open_browser(1200, 900, allow_hosts=set()) as browser:
        page = browser.page
        page.goto(html_path.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_timeout(500)  # a late onerror would fire by now
        page.screenshot(path=str(shot), full_page=True)
        where = f"(screenshot: {shot}, html: {html_path})"
        images = page.evaluate(IMAGES)
        charts = [i for i in images if i["src"].startswith("data:image/svg+xml")]
        # the metric chart, the compare panel's three, the live chart
        assert len(charts) == 5, f"{images} {where}"
        for image in charts:
            assert image["complete"], f"chart not decoded: {image} {where}"
            assert image["width"] > 200, f"chart not drawn: {image} {where}"
            assert image["height"] > 100, f"chart not drawn: {image} {where}"
        labels = page.locator(".nbtrack-compare .nbtrack-params-differ th").all_inner_texts()
        assert [*RUN_NAMES, EVIL] == labels[1:], f"run names missing: {labels} {where}"
        differ = page.locator(".nbtrack-params-differ tr.differs td").all_inner_texts()
        assert "lr" in differ, f"params diff missing: {differ} {where}"
        for kind in ("added", "removed", "source"):
            assert page.locator(f'[data-change="{kind}"]').count() == 1, f"no {kind} {where}"
        # The run table's static HTML travels with its widget into the export.
        cells = set(page.locator(".nbtrack-ui td").all_text_contents())
        assert {*RUN_NAMES, EVIL} <= cells, f"run table missing: {sorted(cells)} {where}"
        assert page.locator('img[src="x"]').count() == 0, f"the payload made an img {where}"
        assert browser.dialogs == [], f"a dialog fired: {browser.dialogs} {where}"
