"""The panels in classic Notebook 7 (``jupyter notebook``) in headless chromium.

``notebooks/compare.ipynb`` with a 4th run named ``<img src=x onerror=alert(1)>``
injected after its ``parameters`` cell runs in Notebook 7; the DOM must hold the
run table's rows (the payload as text), a compare panel opened by ticking two
rows and pressing "Compare selected", the metric chart drawn by Vega, and the
compare cell's params diff, charts and notebook diff; no ``img`` may come from
the payload, no dialog fire and no request leave 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from _compare_notebook import RUN_NAMES, index, read_compare
from _jupyter_browser import error_outputs, open_browser, run_all, skip_unless_browser, start_lab

skip_unless_browser("notebook", "ipywidgets", "altair")

pytestmark = pytest.mark.slow

EVIL = "<img src=x onerror=alert(1)>"


def test_panels_render_in_notebook7(tmp_path: Path) -> None:
    nb = read_compare(extra_run=EVIL)
    root = tmp_path / "nb"
    root.mkdir()
    nbformat.write(nb, root / "compare.ipynb")
    at = {role: index(nb, role) for role in ("table", "chart", "compare")}
    shot = tmp_path / "notebook7-compare.png"
    with start_lab(root, app="notebook") as server, open_browser(1300, 2800) as browser:
        page = browser.page
        page.goto(server.notebook_url("compare.ipynb"))
        run_all(page, len(nb.cells))
        cells = page.locator(".jp-Notebook .jp-Cell")
        where = f"(screenshot: {shot}, server log: {server.log})"
        try:
            assert error_outputs(page) == [], f"a cell raised {where}"

            table = cells.nth(at["table"]).locator(".jp-OutputArea-output table")
            table.locator("td", has_text="no dropout").first.wait_for()
            names = set(table.locator("tbody td").all_text_contents())
            assert {*RUN_NAMES, EVIL} <= names, f"runs missing from the table: {names} {where}"

            # tick two rows and press "Compare selected": the panel opens under the table
            rows = [text.strip() for text in table.locator("tbody tr").all_text_contents()]
            checks = cells.nth(at["table"]).locator("input[type=checkbox]")
            for name in ("baseline", "wide lr"):
                checks.nth(next(i for i, row in enumerate(rows) if name in row)).check()
            cells.nth(at["table"]).get_by_role("button", name="Compare selected").click()
            opened = cells.nth(at["table"]).locator(".nbtrack-compare")
            opened.locator('[data-change="added"]').wait_for()  # the diff is the last output
            summary = opened.last.text_content() or ""
            assert "baseline → wide lr" in summary, f"compare from the table: {summary} {where}"
            assert "1 added, 1 removed, 1 changed source" in summary, f"{summary} {where}"

            chart = cells.nth(at["chart"]).locator(".vega-embed svg.marks")
            chart.wait_for()
            lines = chart.locator(".mark-line path").count()
            assert lines == 2 * (len(RUN_NAMES) + 1), f"{lines} lines drawn {where}"
            legend = chart.locator(".role-legend text").all_text_contents()
            assert EVIL in legend, f"legend: {legend} {where}"

            compare = cells.nth(at["compare"])
            compare.locator(".nbtrack-compare").first.wait_for()
            compare.scroll_into_view_if_needed()
            page.wait_for_timeout(500)  # let Vega finish drawing before the screenshot
            page.screenshot(path=str(shot))
            assert compare.locator(".vega-embed svg.marks").count() == 3, f"charts {where}"
            rows = compare.locator(".nbtrack-params-differ tr.differs td:first-child")
            assert rows.all_text_contents() == ["dropout", "lr"], f"params diff {where}"
            head = compare.locator(".nbtrack-params-differ th").all_text_contents()
            assert head == ["param", *RUN_NAMES, EVIL], f"params header: {head} {where}"
            for kind in ("added", "removed", "source"):
                assert compare.locator(f'[data-change="{kind}"]').count() == 1, f"{kind} {where}"

            assert page.locator('img[src="x"]').count() == 0, f"the payload made an img {where}"
            page.wait_for_timeout(500)  # a late onerror would fire by now
            assert browser.dialogs == [], f"a dialog fired: {browser.dialogs} {where}"
            assert browser.external == [], f"requests left 127.0.0.1: {browser.external} {where}"
        finally:
            if not shot.exists():
                page.screenshot(path=str(shot))
