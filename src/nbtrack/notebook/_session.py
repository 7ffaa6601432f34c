"""Which notebook file this kernel runs for.

A kernel does not know its notebook. The sources, best first:

1. the Jupyter server's ``GET /api/sessions``, matched by this kernel's id
   (from its connection file). The only source that stays right after the
   notebook is renamed in JupyterLab;
2. ``JPY_SESSION_NAME``, set by the server when it starts the kernel;
3. ``__session__`` in the user namespace, copied from it by ipykernel;
4. ``__vsc_ipynb_file__``, set by VS Code.

2 and 3 keep the old name after a rename, and none of 1-3 exists under
nbclient/papermill unless passed in. Every step that fails is logged at debug
level with its reason; nothing here raises.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

#: Runtime files of jupyter_server (JupyterLab, Notebook 7) and of the classic
#: notebook server (Notebook < 7), which wrote ``notebook_dir`` instead of ``root_dir``.
SERVER_FILE_PATTERNS = ("jpserver-*.json", "nbserver-*.json")

_CONNECTION_FILE = re.compile(r"kernel-(?P<id>.+)\.json")


def kernel_id() -> str | None:
    """This kernel's id, from its connection file ``kernel-<id>.json``; None outside a kernel."""
    try:
        from ipykernel.connect import get_connection_file  # lazy: heavy, and optional
    except ImportError as exc:
        logger.debug("kernel id: ipykernel is not importable: %s", exc)
        return None
    try:
        connection_file = get_connection_file()
    except Exception as exc:  # outside a kernel: RuntimeError; beside another
        # traitlets app in the process (an in-process Jupyter server): MultipleInstanceError.
        logger.debug("kernel id: %s", exc)
        return None
    match = _CONNECTION_FILE.fullmatch(Path(connection_file).name)
    if match is None:
        # Kernels started by hand (``ipykernel -f x.json``): no server has a session for them.
        logger.debug("kernel id: connection file %s is not kernel-<id>.json", connection_file)
        return None
    return match["id"]


def running_servers() -> list[dict[str, Any]]:
    """The runtime info of local Jupyter servers, newest first; unreadable files are skipped.

    Stale files of servers that died stay behind; contacting them fails fast
    (connection refused) in :func:`path_from_sessions_api`.
    """
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError as exc:
        logger.debug("servers: jupyter_core is not importable: %s", exc)
        return []
    runtime_dir = Path(jupyter_runtime_dir())
    files = [f for pattern in SERVER_FILE_PATTERNS for f in runtime_dir.glob(pattern)]
    stamped: list[tuple[float, str, dict[str, Any]]] = []
    for file in files:
        try:
            info = json.loads(file.read_text(encoding="utf-8"))
            mtime = file.stat().st_mtime
        except (OSError, ValueError) as exc:  # ValueError: bad JSON or bad UTF-8
            logger.debug("servers: skipping unreadable %s: %s", file, exc)
            continue
        if not isinstance(info, dict):
            logger.debug("servers: skipping %s: not a JSON object", file)
            continue
        stamped.append((mtime, file.name, info))
    # Newest first: the server started last most likely runs this kernel.
    stamped.sort(key=lambda item: (-item[0], item[1]))
    return [info for _, _, info in stamped]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: the token must reach only the URL the runtime file names."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxies either: these are local servers, and a proxy would see the token.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _get_sessions(url: str, token: str, timeout: float) -> list[Any] | None:
    """``GET {url}api/sessions``; None (logged) when the server cannot be asked."""
    endpoint = url.rstrip("/") + "/api/sessions"
    headers = {"Authorization": f"token {token}"} if token else {}
    request = urllib.request.Request(endpoint, headers=headers)  # noqa: S310 (scheme checked)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            sessions = json.loads(response.read())
    except urllib.error.HTTPError as exc:  # before OSError: it is one
        logger.debug("sessions API: %s answered HTTP %s (%s)", endpoint, exc.code, exc.reason)
        return None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # OSError: refused (a stale runtime file), timeout; ValueError: not JSON.
        logger.debug("sessions API: %s failed: %s", endpoint, exc)
        return None
    if not isinstance(sessions, list):
        logger.debug("sessions API: %s did not answer a list", endpoint)
        return None
    return sessions


def _session_path(session: object) -> str | None:
    if not isinstance(session, dict):
        return None
    path = session.get("path")
    if path is None:  # notebook servers before 5.x nested it
        notebook = session.get("notebook")
        path = notebook.get("path") if isinstance(notebook, dict) else None
    return path if isinstance(path, str) and path else None


def path_from_sessions_api(
    kernel_id: str, servers: list[dict[str, Any]], timeout: float = 1.0
) -> Path | None:
    """The notebook whose server session runs ``kernel_id``: ``root_dir / session.path``.

    Asks each server of :func:`running_servers` in turn, and contacts only the
    ``url`` its runtime file names. A console sharing the kernel is passed
    over for the notebook. Existence is not checked here.
    """
    for server in servers:
        url, token = server.get("url"), server.get("token") or ""
        root = server.get("root_dir") or server.get("notebook_dir")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            # Unix-socket servers (http+unix://) need a transport urllib lacks.
            logger.debug("sessions API: skipping server with url %r", url)
            continue
        if not isinstance(root, str) or not isinstance(token, str):
            logger.debug("sessions API: skipping %s: no root_dir or a bad token", url)
            continue
        sessions = _get_sessions(url, token, timeout)
        for session in sessions or ():
            kernel = session.get("kernel") if isinstance(session, dict) else None
            if not isinstance(kernel, dict) or kernel.get("id") != kernel_id:
                continue
            path = _session_path(session)
            if path is None or not path.endswith(".ipynb"):
                logger.debug("sessions API: kernel %s session %r is no notebook", kernel_id, path)
                continue
            return Path(root).expanduser() / path
        if sessions is not None:
            logger.debug("sessions API: %s has no notebook session for kernel %s", url, kernel_id)
    return None


def _usable(candidate: object, source: str) -> Path | None:
    """``candidate`` as an absolute path if it names an existing ``.ipynb`` file, else None."""
    if candidate is None or candidate == "":
        logger.debug("notebook path: %s is not set", source)
        return None
    if not isinstance(candidate, str | os.PathLike):
        logger.debug("notebook path: %s is a %s, not a path", source, type(candidate).__name__)
        return None
    path = Path(candidate).expanduser().absolute()
    if path.suffix != ".ipynb":
        logger.debug("notebook path: %s = %s is not an .ipynb file", source, path)
        return None
    if not path.is_file():
        logger.debug("notebook path: %s = %s does not exist (renamed?)", source, path)
        return None
    return path


def find_notebook_path(
    user_ns: Mapping[str, Any], *, kernel: str | None = None, timeout: float = 1.0
) -> tuple[Path | None, str]:
    """The notebook file this kernel runs for, and the name of the source that gave it.

    Tries the sessions API (``"sessions-api"``; right after a rename), then
    ``JPY_SESSION_NAME`` and ``__session__`` (both keep the name the notebook
    had when the kernel started, so they are stale after a rename; a renamed
    file no longer exists and is passed over), then ``__vsc_ipynb_file__``
    (``"vscode"``). Returns ``(None, "none")`` when none names an existing
    ``.ipynb`` file. ``kernel`` is this kernel's id, looked up with
    :func:`kernel_id` when None. Each server may take up to ``timeout`` seconds.
    """
    kid = kernel if kernel is not None else kernel_id()
    if kid is None:
        logger.debug("notebook path: sessions-api skipped: no kernel id")
    else:
        servers = running_servers()
        if not servers:
            logger.debug("notebook path: sessions-api skipped: no running Jupyter server")
        else:
            found = _usable(path_from_sessions_api(kid, servers, timeout), "sessions-api")
            if found is not None:
                return found, "sessions-api"
    candidates = (
        ("JPY_SESSION_NAME", os.environ.get("JPY_SESSION_NAME")),
        ("__session__", user_ns.get("__session__")),
        ("vscode", user_ns.get("__vsc_ipynb_file__")),
    )
    for source, candidate in candidates:
        found = _usable(candidate, source)
        if found is not None:
            return found, source
    return None, "none"
