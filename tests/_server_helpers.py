"""Stores for the server tests, and plain HTTP calls to a real nbtrack-enabled server.

``enabled_config_dir(tmp)`` is a Jupyter config directory holding the shipped
``jupyter-config/server-config/nbtrack.json`` where an installed wheel puts it
(``jupyter_server_config.d/``), so a server started with ``JUPYTER_CONFIG_DIR``
pointing there enables the extension exactly as an install does.

``api_caller(jp_fetch, jp_asyncio_loop)`` makes the ``api(...)`` function of the
in-process server tests; ``ok`` and ``error`` read its JSON answers.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from IPython.core.interactiveshell import InteractiveShell

import nbtrack

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CONFIG = REPO / "jupyter-config" / "server-config" / "nbtrack.json"

#: Cells of a tracked notebook session: a timeline with params, metrics and an error.
NOTEBOOK_CELLS = (
    "%track start nb-run --experiment notebooks",
    "import nbtrack\nnbtrack.log_param('lr', 0.1)",
    "for i in range(5):\n    nbtrack.log_metric('loss', 1 / (i + 1), step=i)",
    "1 / 0",
    "nbtrack.set_tag('stage', 'tried')",
    "%track end",
)


def enabled_config_dir(tmp: Path) -> Path:
    """A Jupyter config dir that enables nbtrack with the shipped config file."""
    config = tmp / "jupyter-config"
    target = config / "jupyter_server_config.d"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED_CONFIG, target / "nbtrack.json")
    return config


def notebook_run(shell: InteractiveShell) -> str:
    """Run :data:`NOTEBOOK_CELLS` in the IPython shell; returns the run's id.

    The run gets a cell timeline, an ``environment.json`` and a ``notebook.ipynb``
    snapshot (rebuilt from the timeline: no notebook file exists outside Jupyter).
    """
    run_id = None
    for source in NOTEBOOK_CELLS:
        shell.run_cell(source, store_history=True)
        active = nbtrack.active_run()
        run_id = run_id or (active.info.run_id if active else None)
    assert run_id is not None, "%track start did not start a run"
    assert nbtrack.active_run() is None, "%track end did not end the run"
    nbtrack.flush()
    return run_id


@dataclass
class Reply:
    """An HTTP answer: status, headers and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def fetch(url: str, token: str | None = None, *, method: str = "GET", body: Any = None) -> Reply:
    """One request (no redirects followed); ``body`` is sent as JSON."""
    headers = {"Authorization": f"token {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with opener.open(request, timeout=60) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers), exc.read())


Api = Callable[..., Reply]


def api_caller(jp_fetch: Any, loop: Any) -> Api:
    """``api("runs", params=..., method=..., body=..., headers=...)``: one call to nbtrack/api
    of pytest-jupyter's in-process server."""
    # jupyter_core hands out its cached loop without making it current; after an
    # earlier test's asyncio.run() there is no current loop and tornado's fetch fails.
    asyncio.set_event_loop(loop)

    def call(
        *path: str,
        params: dict[str, Any] | Sequence[tuple[str, str]] | None = None,
        method: str = "GET",
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        if method == "POST" and body is None:
            body = ""
        elif body is not None and not isinstance(body, str | bytes):
            body = json.dumps(body)
            headers = {"Content-Type": "application/json", **(headers or {})}
        response = loop.run_until_complete(
            jp_fetch(
                "nbtrack", "api", *path, params=params, method=method, body=body,
                headers=headers, raise_error=False, follow_redirects=False,
            )
        )  # fmt: skip
        return Reply(response.code, dict(response.headers), response.body)

    return call


def ok(reply: Reply) -> Any:
    """The JSON of a 200 JSON answer."""
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    return reply.json()


def error(reply: Reply, status: int) -> str:
    """The message of a JSON error answer with this status."""
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    payload = reply.json()
    assert set(payload) == {"message", "reason"}
    assert isinstance(payload["message"], str)
    assert payload["message"]
    return str(payload["message"])
