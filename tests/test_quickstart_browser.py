"""``notebooks/quickstart.ipynb`` in JupyterLab, as the README's first step shows it.

Run all cells in a real JupyterLab (headless Debian chromium through
Playwright): no cell fails, the run appears finished in the Runs sidebar, and
the screenshot the README shows is taken
(``NBTRACK_SCREENSHOTS_DIR=docs/screenshots pytest tests/test_quickstart_browser.py``
writes ``docs/screenshots/quickstart.png``). Skipped without chromium,
Playwright, JupyterLab or the built extension.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest

from _jupyter_browser import skip_unless_browser

skip_unless_browser()

from _jupyter_browser import (  # noqa: E402 - after the skip checks
    error_outputs,
    open_browser,
    run_all,
    start_lab,
)
from _lab_helpers import open_notebook, skip_unless_labextension  # noqa: E402

skip_unless_labextension()

pytestmark = pytest.mark.slow

QUICKSTART = Path(__file__).parents[1] / "notebooks" / "quickstart.ipynb"
COMMAND = "([id, args]) => window.jupyterapp.commands.execute(id, args)"


def test_quickstart_in_jupyterlab(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copyfile(QUICKSTART, root / "quickstart.ipynb")
    shot = tmp_path / "quickstart.png"
    with start_lab(root) as lab, open_browser(1500, 950) as browser:
        page = browser.page
        where = f"(server log {lab.log})"
        open_notebook(page, lab, "quickstart.ipynb")
        cells = len(nbformat.read(QUICKSTART, as_version=4).cells)
        run_all(page, cells, timeout_ms=120_000)
        assert error_outputs(page) == [], where
        page.evaluate(COMMAND, ["nbtrack:open-runs", {}])
        finished = page.locator(
            '#nbtrack-sidebar tr.nbtrack-run-row[data-status="finished"]', has_text="gd"
        )
        finished.first.wait_for()
        # The end of the notebook: which cell logged the loss, and the experiment's runs.
        page.locator(".jp-NotebookPanel .jp-Cell").last.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        page.screenshot(path=str(shot))
        assert browser.dialogs == [], where
        assert browser.external == [], f"requests left 127.0.0.1: {browser.external} {where}"
    assert shot.stat().st_size > 0
    docs = os.environ.get("NBTRACK_SCREENSHOTS_DIR")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(docs) / "quickstart.png")
