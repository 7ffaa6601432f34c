"""Real JupyterLab / Notebook 7 servers and headless chromium for the browser tests.

``start_lab(root, *extra_args)`` starts ``jupyter lab`` (or, with ``app="notebook"``,
Notebook 7) on a free 127.0.0.1 port with token auth, rooted at ``root``, and stops it
afterwards. ``open_browser()`` launches Debian's chromium through Playwright with every
request that leaves 127.0.0.1 aborted and recorded, and every JS dialog recorded.
``run_all(page, n)`` runs all cells of the open notebook and waits until ``n`` cells
have executed with the kernel idle.

Test modules call ``skip_unless_browser()`` first: it skips the module when chromium,
Playwright or JupyterLab is missing. Never ``playwright install`` (it downloads a browser).
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import nbformat
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
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
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
START_TIMEOUT_S = 90

# The JS snippets below read the app object that ``expose_app_in_browser`` puts on
# ``window.jupyterapp``; JupyterLab and Notebook 7 share the shell/session model.
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
    return cells.filter((cell) => cell.type === "code")
        .flatMap((cell) => Array.from({length: cell.outputs.length},
            (_, i) => cell.outputs.get(i).toJSON()))
        .filter((out) => out.output_type === "error")
        .map((out) => `${out.ename}: ${out.evalue}`);
}"""

RUN_ALL = "() => window.jupyterapp.commands.execute('notebook:run-all-cells')"


def skip_unless_browser(*modules: str) -> None:
    """Skip the calling module unless chromium, Playwright, JupyterLab and ``modules`` exist.

    On CI (``CI=true``) a missing browser fails instead: `.ci/run` installs chromium, so
    its absence there is a broken set-up, never a reason to pass without the browser tests.
    """
    if not CHROMIUM.exists():
        reason = "browser test needs Debian chromium at /usr/bin/chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: .ci/run should have installed it)", pytrace=False)
        pytest.skip(reason, allow_module_level=True)
    for module in ("playwright.sync_api", "jupyterlab", *modules):
        pytest.importorskip(module, reason=f"browser test needs {module.split('.')[0]}")


@dataclass
class Lab:
    """A running Jupyter server: where it listens, its token, its root and its log file."""

    url: str
    token: str
    root: Path
    log: Path
    app: str = "jupyterlab"

    def notebook_url(self, path: str) -> str:
        """The URL opening notebook ``path`` (relative to ``root``) in this server's UI."""
        route = "lab/tree" if self.app == "jupyterlab" else "notebooks"
        return f"{self.url}/{route}/{path}?token={self.token}"

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server log, for failure messages."""
        return self.log.read_text(errors="replace")[-chars:]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_notebook(path: Path, cells: Sequence[str]) -> None:
    """Write a Python 3 notebook of code ``cells`` to ``path``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = KERNELSPEC
    nbformat.write(nb, path)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local URL
            return response.status == 200 and "started" in json.loads(response.read())
    except OSError:
        return False


def _server_args(app: str, root: Path, state: Path, port: int, token: str) -> list[str]:
    from jupyter_server.serverapp import ServerApp

    app_class = {"jupyterlab": "LabApp", "notebook": "JupyterNotebookApp"}[app]
    args = [
        sys.executable,
        "-m",
        app,
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--{app_class}.workspaces_dir={state / 'workspaces'}",
        f"--{app_class}.expose_app_in_browser=True",
    ]
    if app == "jupyterlab":
        args.append("--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")
    if "allow_unauthenticated_access" in ServerApp.class_trait_names():
        args.append("--ServerApp.allow_unauthenticated_access=False")
    return args


@contextmanager
def start_lab(
    root: Path, *extra_args: str, app: str = "jupyterlab", env: dict[str, str] | None = None
) -> Iterator[Lab]:
    """Run a Jupyter server rooted at ``root`` until the ``with`` block ends.

    ``app`` is ``"jupyterlab"`` or ``"notebook"`` (Notebook 7). ``extra_args`` are appended
    to the command line (e.g. ``--ServerApp.jpserver_extensions={"nbtrack": True}``).
    The kernel inherits ``os.environ`` (so the test's ``NBTRACK_TRACKING_URI``) updated
    with ``env``. Runtime files, workspaces and the log go next to ``root``.
    """
    if app not in {"jupyterlab", "notebook"}:
        raise ValueError(f"app must be 'jupyterlab' or 'notebook', not {app!r}")
    state = root.parent / f".{root.name}-{app}"
    state.mkdir(parents=True, exist_ok=True)
    port, token = free_port(), secrets.token_hex(16)
    full_env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(state / "runtime"), **(env or {})}
    args = [*_server_args(app, root, state, port, token), *extra_args]
    log = state / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=root, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, log, app)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(f"{lab.url}/api/status?token={token}"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{app} did not start:\n{lab.log_tail()}")
            time.sleep(0.5)
        yield lab
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Browser:
    """A chromium page with the network outside 127.0.0.1 blocked, and what it tried."""

    context: BrowserContext
    page: Page
    dialogs: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def new_page(self) -> Page:
        """Another page in the same (network-blocked) context."""
        page = self.context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        return page


@contextmanager
def open_browser(
    width: int = 1400, height: int = 1000, *, allow_hosts: set[str] | None = None
) -> Iterator[Browser]:
    """Headless chromium; requests to hosts outside ``allow_hosts`` are aborted and recorded.

    ``allow_hosts`` defaults to ``LOCAL_HOSTS``; pass ``set()`` to block every request
    (``file://`` pages still load: they have no host).
    """
    from playwright.sync_api import Request, Route, sync_playwright

    allowed = LOCAL_HOSTS if allow_hosts is None else allow_hosts
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context(
                viewport={"width": width, "height": height}, service_workers="block"
            )
            browser = Browser(context, page=None)  # type: ignore[arg-type] - set just below

            def route(route: Route, request: Request) -> None:
                host = urlparse(request.url).hostname
                if request.url.startswith(("file:", "data:", "blob:")) or host in allowed:
                    route.continue_()
                else:
                    browser.external.append(request.url)
                    route.abort()

            context.route("**/*", route)
            browser.page = browser.new_page()
            yield browser
        finally:
            chromium.close()


def dismiss_news(page: Page) -> None:
    """Close JupyterLab's "official Jupyter news?" toast if it shows (it hides outputs)."""
    news = page.get_by_role("button", name="No", exact=True)
    if news.is_visible():
        news.click()


def run_all(page: Page, n: int, timeout_ms: int = TIMEOUT_MS) -> None:
    """Wait for an idle kernel, run all cells, wait until ``n`` cells ran and it is idle again."""
    page.wait_for_function(KERNEL_IDLE, timeout=timeout_ms, polling=250)
    page.evaluate(RUN_ALL)
    page.wait_for_function(ALL_EXECUTED, arg=n, timeout=timeout_ms, polling=250)


def error_outputs(page: Page) -> list[str]:
    """``"ename: evalue"`` of every error output in the open notebook."""
    errors: list[Any] = page.evaluate(ERROR_OUTPUTS)
    return [str(error) for error in errors]
