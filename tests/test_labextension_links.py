"""The JupyterLab extension in a real browser: provenance links, and a missing server extension.

1. ``nbtrack.ui.compare`` of two runs shows, per metric, links to the cells that
   logged it. Clicking one (or Enter on it) activates that cell and scrolls it
   into view. From another notebook, a link goes to the run's notebook when it
   is open; when it is closed a notice offers to open it (at the cell); a link to
   a cell deleted since shows a notice instead.
2. In an untrusted output JupyterLab's sanitizer drops the data attributes:
   the link stays plain text (not focusable, no link role).
3. With the server extension disabled, the Runs sidebar names the fix
   (``pip install nbtrack`` / ``jupyter server extension enable nbtrack``), no raw 404.

Headless Debian chromium drives JupyterLab through Playwright; no request may
leave 127.0.0.1. Screenshots go to the test's tmp directory. Skipped when
chromium, Playwright, JupyterLab or the built extension is missing.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pytest

from _jupyter_browser import skip_unless_browser

skip_unless_browser()

from _jupyter_browser import (  # noqa: E402 - after the skip checks
    KERNELSPEC,
    dismiss_news,
    error_outputs,
    open_browser,
    run_all,
    start_lab,
)
from _lab_helpers import open_notebook, skip_unless_labextension  # noqa: E402

skip_unless_labextension()

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.slow

NOTEBOOK = "links.ipynb"
OTHER = "other.ipynb"
IDS = "run_ids.json"
#: A tall output between the logging cells and the compare panel, so they are apart.
FILLER = "print('\\n'.join(f'filler line {i}' for i in range(60)))"
#: (cell id, source) of the notebook; the two "log-" cells log the metric of each run.
CELLS = [
    ("setup", "%load_ext nbtrack\nimport nbtrack\nids = []"),
    ("start-first", "%track start first"),
    (
        "log-first",
        "for step in range(3):\n"
        "    nbtrack.log_metric('loss', 1 / (step + 1), step=step)\n"
        "ids.append(nbtrack.active_run().info.run_id)",
    ),
    ("end-first", "%track end"),
    ("start-second", "%track start second"),
    (
        "log-second",
        "for step in range(3):\n"
        "    nbtrack.log_metric('loss', 2 / (step + 1), step=step)\n"
        "ids.append(nbtrack.active_run().info.run_id)",
    ),
    ("end-second", "%track end"),
    *((f"filler-{i}", FILLER) for i in range(4)),
    (
        "compare",
        "import json\nimport nbtrack.ui\n\n"
        f"with open({IDS!r}, 'w') as out:\n    json.dump(ids, out)\n"
        "nbtrack.ui.compare(ids)",
    ),
]
#: A second notebook comparing the same runs (logged in the first).
OTHER_CELLS = [
    (
        "other-compare",
        f"import json\nimport nbtrack.ui\n\nwith open({IDS!r}) as saved:\n"
        "    ids = json.load(saved)\nnbtrack.ui.compare(ids)",
    )
]

# The active cell of the current notebook: its id, whether it has JupyterLab's
# active class, and whether it intersects the notebook's visible scroll area.
ACTIVE_CELL = """() => {
    const notebook = window.jupyterapp.shell.currentWidget.content;
    const cell = notebook.activeCell;
    const box = cell.node.getBoundingClientRect();
    const view = notebook.node.getBoundingClientRect();
    return {
        id: cell.model.id,
        active: cell.node.classList.contains('jp-mod-active'),
        visible: box.bottom > view.top && box.top < view.bottom && box.height > 0,
    };
}"""

CELL_VISIBLE = """(id) => {
    const notebook = window.jupyterapp.shell.currentWidget.content;
    const cell = notebook.widgets.find((c) => c.model.id === id);
    const box = cell.node.getBoundingClientRect();
    const view = notebook.node.getBoundingClientRect();
    return box.bottom > view.top && box.top < view.bottom && box.height > 0;
}"""

DELETE_CELL = """(id) => {
    const notebook = window.jupyterapp.shell.currentWidget.content;
    const index = notebook.widgets.findIndex((c) => c.model.id === id);
    notebook.model.sharedModel.deleteCell(index);
}"""

NOTEBOOK_PANEL = """(path) => Array.from(window.jupyterapp.shell.widgets('main'))
    .find((w) => w.context && w.context.path === path)"""

ACTIVATE = f"""(path) => {{
    window.jupyterapp.shell.activateById(({NOTEBOOK_PANEL})(path).id);
}}"""

SAVE_AND_CLOSE = f"""async (path) => {{
    const panel = ({NOTEBOOK_PANEL})(path);
    await panel.context.save();
    panel.close();
}}"""

CURRENT_CELL_IS = """([path, id]) => {
    const panel = window.jupyterapp.shell.currentWidget;
    return !!panel && !!panel.context && panel.context.path === path
        && !!panel.content.activeCell && panel.content.activeCell.model.id === id;
}"""

COMMAND = "async ([id, args]) => { await window.jupyterapp.commands.execute(id, args); }"


def write_notebook_cells(path: Path, cells: list[tuple[str, str]]) -> None:
    """Write a Python 3 notebook of code ``cells``, given as (cell id, source)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source, id=cell_id) for cell_id, source in cells]
    nb.metadata["kernelspec"] = KERNELSPEC
    nbformat.write(nb, path)


def link(page: Page, cell_id: str) -> Locator:
    """The provenance link to ``cell_id`` in the notebook on show."""
    selector = f'.jp-OutputArea-output a.nbtrack-cell-link[data-nbtrack-cell-id="{cell_id}"]'
    return page.locator(selector).filter(visible=True)


def wait_for_cell(page: Page, path: str, cell_id: str) -> dict[str, Any]:
    """Wait until ``cell_id`` of ``path`` is the current notebook's active cell; its state."""
    page.wait_for_function(CURRENT_CELL_IS, arg=[path, cell_id], polling=100)
    found: dict[str, Any] = page.evaluate(ACTIVE_CELL)
    return found


def test_provenance_links_go_to_the_logging_cell(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    root.mkdir()
    write_notebook_cells(root / NOTEBOOK, CELLS)
    write_notebook_cells(root / OTHER, OTHER_CELLS)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    followed = {"id": "log-first", "active": True, "visible": True}
    with start_lab(root) as lab, open_browser(1400, 900) as browser:
        page = browser.page
        where = f"(screenshots in {shots}, server log {lab.log})"
        open_notebook(page, lab, NOTEBOOK)
        run_all(page, len(CELLS))
        assert error_outputs(page) == [], where

        # Both links render as links: focusable, announced, styled as clickable.
        first, second = link(page, "log-first"), link(page, "log-second")
        first.wait_for()
        assert first.get_attribute("tabindex") == "0", where
        assert first.get_attribute("role") == "link", where
        assert first.evaluate("(a) => getComputedStyle(a).cursor") == "pointer", where
        assert "underline" in first.evaluate("(a) => getComputedStyle(a).textDecorationLine")
        first.scroll_into_view_if_needed()
        assert not page.evaluate(CELL_VISIBLE, "log-first"), f"nothing to scroll to {where}"
        page.screenshot(path=str(shots / "provenance-links.png"))

        # 1. A click activates the logging cell and scrolls it into view.
        first.click()
        assert wait_for_cell(page, NOTEBOOK, "log-first") == followed, where
        page.screenshot(path=str(shots / "provenance-link-followed.png"))

        # 2. Enter on a focused link does the same (and does not edit the compare cell).
        second.scroll_into_view_if_needed()
        second.focus()
        page.keyboard.press("Enter")
        state = wait_for_cell(page, NOTEBOOK, "log-second")
        assert state == {**followed, "id": "log-second"}, where
        mode = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.mode")
        assert mode == "command", where

        # 3. From another notebook: the run's notebook (GET runs/<id>) when it is open.
        page.evaluate(COMMAND, ["docmanager:open", {"path": OTHER}])
        run_all(page, len(OTHER_CELLS))
        assert error_outputs(page) == [], where
        link(page, "log-first").click()
        assert wait_for_cell(page, NOTEBOOK, "log-first") == followed, where

        # 4. The run's notebook closed: a notice, whose action opens it at the cell.
        page.evaluate(SAVE_AND_CLOSE, NOTEBOOK)
        page.evaluate(ACTIVATE, OTHER)
        link(page, "log-first").click()
        closed = page.locator(".Toastify__toast", has_text="not in any open notebook")
        closed.wait_for()
        assert f"It ran in {NOTEBOOK}" in closed.inner_text(), where
        closed.get_by_role("button", name="Open notebook").click()
        assert wait_for_cell(page, NOTEBOOK, "log-first") == followed, where

        # 5. A cell deleted since: a notice naming the notebook; the active cell stays.
        page.evaluate(DELETE_CELL, "log-first")
        page.evaluate(ACTIVATE, OTHER)
        link(page, "log-first").click()
        deleted = page.locator(".Toastify__toast", has_text="no longer in")
        deleted.wait_for()
        assert NOTEBOOK in deleted.inner_text(), where
        page.wait_for_timeout(500)  # the toast slides in: let it settle for the screenshot
        page.screenshot(path=str(shots / "provenance-link-missing.png"))
        current = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")
        assert current == OTHER, where

        assert browser.dialogs == [], f"a dialog fired: {browser.dialogs} {where}"
        assert browser.external == [], f"requests left 127.0.0.1: {browser.external} {where}"


def test_untrusted_outputs_keep_provenance_links_plain_text(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    html = (
        '<p class="nbtrack-untrusted">loss in first: <a class="nbtrack-cell-link"'
        ' data-nbtrack-cell-id="log-first" data-nbtrack-run-id="r1">In [3]</a></p>'
    )
    output = nbformat.v4.new_output("display_data", data={"text/html": html, "text/plain": ""})
    nb.cells = [nbformat.v4.new_code_cell("pass", id="shown", outputs=[output])]
    nb.metadata["kernelspec"] = KERNELSPEC
    nbformat.write(nb, root / NOTEBOOK)  # unsigned: JupyterLab opens it untrusted
    with start_lab(root) as lab, open_browser(1200, 800) as browser:
        page = browser.page
        page.goto(lab.notebook_url(NOTEBOOK))
        anchor = page.locator(".nbtrack-untrusted a.nbtrack-cell-link")
        anchor.wait_for()
        attributes = anchor.evaluate("(a) => a.getAttributeNames()")
        # The sanitizer adds rel and target to every link; it keeps class only.
        for kept in ("data-nbtrack-cell-id", "data-nbtrack-run-id", "tabindex", "role"):
            assert kept not in attributes, f"{attributes} (server log {lab.log})"
        assert anchor.evaluate("(a) => getComputedStyle(a).cursor") != "pointer"


def test_sidebar_names_the_fix_without_the_server_extension(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    root.mkdir()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    disabled = "--ServerApp.jpserver_extensions=nbtrack=False"
    with start_lab(root, disabled) as lab, open_browser(1200, 800) as browser:
        where = f"(screenshots in {shots}, server log {lab.log})"
        request = urllib.request.Request(  # noqa: S310 - the local server's URL
            f"{lab.url}/nbtrack/api/status", headers={"Authorization": f"token {lab.token}"}
        )
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=30)  # noqa: S310 - as above
        assert answer.value.code == 404, f"the server extension still runs {where}"

        page = browser.page
        page.goto(f"{lab.url}/lab?token={lab.token}")
        page.wait_for_function(
            "() => !!window.jupyterapp && window.jupyterapp.started", polling=250
        )
        dismiss_news(page)
        page.evaluate("() => window.jupyterapp.commands.execute('nbtrack:open-runs')")
        notice = page.locator("#nbtrack-sidebar .nbtrack-notice.nbtrack-server-missing")
        notice.wait_for()
        text = notice.inner_text()
        assert "pip install nbtrack" in text, f"{text!r} {where}"
        assert "jupyter server extension enable nbtrack" in text, f"{text!r} {where}"
        sidebar = page.locator("#nbtrack-sidebar").inner_text()
        assert "404" not in sidebar, f"a raw 404 shows: {sidebar!r} {where}"
        page.screenshot(path=str(shots / "server-extension-missing.png"))
        assert page.locator(".jp-Dialog").count() == 0, f"an error dialog opened {where}"
        assert browser.dialogs == [], f"a dialog fired: {browser.dialogs} {where}"
        assert browser.external == [], f"requests left 127.0.0.1: {browser.external} {where}"
    assert (shots / "server-extension-missing.png").stat().st_size > 0
