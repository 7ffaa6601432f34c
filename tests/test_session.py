"""Finding the notebook file a kernel runs for: sessions API first, then the stale fallbacks.

The Jupyter server is a real HTTP server on 127.0.0.1 serving ``/api/sessions``;
its runtime file sits in a real runtime directory (``JUPYTER_RUNTIME_DIR``).
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from nbtrack.notebook._session import (
    find_notebook_path,
    kernel_id,
    path_from_sessions_api,
    running_servers,
)

KERNEL = "0b5c1f3e-6d2a-4c1e-9f5e-2f7d7c1a9b10"
OTHER_KERNEL = "77777777-0000-4000-8000-000000000000"
TOKEN = secrets.token_hex(8)  # what the server expects
WRONG_TOKEN = secrets.token_hex(8)
LOGGER = "nbtrack.notebook._session"


@dataclass
class FakeJupyterServer:
    """What the test server answers, and what it was asked."""

    url: str
    token: str = TOKEN
    sessions: list[dict[str, Any]] = field(default_factory=list)
    redirect: bool = False
    requests: list[tuple[str, str | None]] = field(default_factory=list)


def _handler(server: FakeJupyterServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            auth = self.headers.get("Authorization")
            server.requests.append((self.path, auth))
            if server.redirect and self.path == "/api/sessions":
                self.send_response(302)
                self.send_header("Location", "/elsewhere")
                self.end_headers()
                return
            if self.path != "/api/sessions":
                self.send_error(404)
                return
            if auth != f"token {server.token}":
                self.send_error(403, "Forbidden")
                return
            body = json.dumps(server.sessions).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    return Handler


@pytest.fixture
def jupyter_server() -> Iterator[FakeJupyterServer]:
    fake = FakeJupyterServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield fake
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "runtime"
    directory.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(directory))
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    return directory


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The server's root_dir, holding a notebook before and after a rename."""
    directory = tmp_path / "root"
    (directory / "sub").mkdir(parents=True)
    for name in ("sub/old.ipynb", "sub/new.ipynb"):
        (directory / name).write_text("{}", encoding="utf-8")
    return directory


def write_server_file(
    runtime_dir: Path, name: str, url: str, root: Path, token: str = TOKEN, **extra: Any
) -> None:
    info = {"url": url, "token": token, "root_dir": str(root), "pid": 1, **extra}
    (runtime_dir / name).write_text(json.dumps(info), encoding="utf-8")


def session(kernel: str, path: str) -> dict[str, Any]:
    return {"id": "s-" + path, "path": path, "type": "notebook", "kernel": {"id": kernel}}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return caplog


# -- kernel id ------------------------------------------------------------------------


def test_kernel_id_outside_a_kernel_is_none(debug_log: pytest.LogCaptureFixture) -> None:
    assert kernel_id() is None
    assert "not in a running Kernel" in debug_log.text


def test_kernel_id_without_ipykernel_is_none(
    monkeypatch: pytest.MonkeyPatch, debug_log: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "ipykernel.connect", None)  # makes the import fail
    assert kernel_id() is None
    assert "ipykernel is not importable" in debug_log.text


# -- runtime files --------------------------------------------------------------------


def test_running_servers_skips_unreadable_files(
    runtime_dir: Path, root: Path, debug_log: pytest.LogCaptureFixture
) -> None:
    write_server_file(runtime_dir, "jpserver-11.json", "http://127.0.0.1:1/", root)
    write_server_file(runtime_dir, "nbserver-12.json", "http://127.0.0.1:2/", root)
    (runtime_dir / "jpserver-13.json").write_text("{not json", encoding="utf-8")
    (runtime_dir / "jpserver-14.json").write_text("[1, 2]", encoding="utf-8")
    (runtime_dir / "kernel-abc.json").write_text("{}", encoding="utf-8")  # not a server
    urls = sorted(info["url"] for info in running_servers())
    assert urls == ["http://127.0.0.1:1/", "http://127.0.0.1:2/"]
    assert "skipping unreadable" in debug_log.text
    assert "jpserver-14.json: not a JSON object" in debug_log.text


def test_no_runtime_dir_means_no_servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "missing"))
    assert running_servers() == []


# -- sessions API ---------------------------------------------------------------------


def test_sessions_api_matches_this_kernel(
    jupyter_server: FakeJupyterServer, runtime_dir: Path, root: Path
) -> None:
    jupyter_server.sessions = [
        session(OTHER_KERNEL, "sub/old.ipynb"),
        session(KERNEL, "sub/new.ipynb"),
    ]
    write_server_file(runtime_dir, "jpserver-1.json", jupyter_server.url, root)
    assert path_from_sessions_api(KERNEL, running_servers()) == root / "sub/new.ipynb"
    assert jupyter_server.requests == [("/api/sessions", f"token {TOKEN}")]


def test_sessions_api_wins_after_a_rename(
    jupyter_server: FakeJupyterServer,
    runtime_dir: Path,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # JupyterLab renamed old -> new: the server knows, the kernel's env does not.
    jupyter_server.sessions = [session(KERNEL, "sub/new.ipynb")]
    write_server_file(runtime_dir, "jpserver-1.json", jupyter_server.url, root)
    old = str(root / "sub/old.ipynb")
    monkeypatch.setenv("JPY_SESSION_NAME", old)
    found = find_notebook_path({"__session__": old}, kernel=KERNEL)
    assert found == (root / "sub/new.ipynb", "sessions-api")


def test_console_sharing_the_kernel_is_passed_over(
    jupyter_server: FakeJupyterServer, runtime_dir: Path, root: Path
) -> None:
    jupyter_server.sessions = [
        {**session(KERNEL, "console-1-abc"), "type": "console"},
        session(KERNEL, "sub/new.ipynb"),
    ]
    write_server_file(runtime_dir, "jpserver-1.json", jupyter_server.url, root)
    assert path_from_sessions_api(KERNEL, running_servers()) == root / "sub/new.ipynb"


def test_old_notebook_server_layout(
    jupyter_server: FakeJupyterServer, runtime_dir: Path, root: Path
) -> None:
    # Notebook < 7: nbserver-*.json with notebook_dir, and session.notebook.path.
    jupyter_server.sessions = [
        {"id": "s", "notebook": {"path": "sub/old.ipynb"}, "kernel": {"id": KERNEL}}
    ]
    info = {"url": jupyter_server.url, "token": TOKEN, "notebook_dir": str(root)}
    (runtime_dir / "nbserver-5.json").write_text(json.dumps(info), encoding="utf-8")
    assert path_from_sessions_api(KERNEL, running_servers()) == root / "sub/old.ipynb"


def test_wrong_token_falls_back_and_logs(
    jupyter_server: FakeJupyterServer,
    runtime_dir: Path,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    jupyter_server.sessions = [session(KERNEL, "sub/new.ipynb")]
    write_server_file(runtime_dir, "jpserver-1.json", jupyter_server.url, root, token=WRONG_TOKEN)
    monkeypatch.setenv("JPY_SESSION_NAME", str(root / "sub/old.ipynb"))
    found = find_notebook_path({}, kernel=KERNEL)
    assert found == (root / "sub/old.ipynb", "JPY_SESSION_NAME")
    assert "answered HTTP 403" in debug_log.text


def test_dead_and_unusable_servers_are_skipped(
    jupyter_server: FakeJupyterServer,
    runtime_dir: Path,
    root: Path,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    jupyter_server.sessions = [session(KERNEL, "sub/new.ipynb")]
    servers = [
        {"url": f"http://127.0.0.1:{closed_port()}/", "token": TOKEN, "root_dir": str(root)},
        {"url": "http+unix://%2Ftmp%2Fjupyter.sock/", "token": TOKEN, "root_dir": str(root)},
        {"url": jupyter_server.url, "token": TOKEN},  # no root_dir
        {"url": jupyter_server.url, "token": TOKEN, "root_dir": str(root)},
    ]
    assert path_from_sessions_api(KERNEL, servers) == root / "sub/new.ipynb"
    assert "failed" in debug_log.text
    assert "skipping server with url 'http+unix" in debug_log.text
    assert "no root_dir" in debug_log.text


def test_redirects_are_not_followed(
    jupyter_server: FakeJupyterServer, root: Path, debug_log: pytest.LogCaptureFixture
) -> None:
    # The token goes only to the URL of the runtime file, never where a redirect points.
    jupyter_server.redirect = True
    servers = [{"url": jupyter_server.url, "token": TOKEN, "root_dir": str(root)}]
    assert path_from_sessions_api(KERNEL, servers) is None
    assert [path for path, _ in jupyter_server.requests] == ["/api/sessions"]
    assert "answered HTTP 302" in debug_log.text


def test_no_session_for_this_kernel(
    jupyter_server: FakeJupyterServer, root: Path, debug_log: pytest.LogCaptureFixture
) -> None:
    jupyter_server.sessions = [session(OTHER_KERNEL, "sub/new.ipynb")]
    servers = [{"url": jupyter_server.url, "token": TOKEN, "root_dir": str(root)}]
    assert path_from_sessions_api(KERNEL, servers) is None
    assert f"no notebook session for kernel {KERNEL}" in debug_log.text


# -- fallback order -------------------------------------------------------------------


def test_fallbacks_in_order(
    runtime_dir: Path,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    old, new = root / "sub/old.ipynb", root / "sub/new.ipynb"
    vsc = root / "vscode.ipynb"
    vsc.write_text("{}", encoding="utf-8")
    user_ns: dict[str, Any] = {"__session__": str(new), "__vsc_ipynb_file__": str(vsc)}

    monkeypatch.setenv("JPY_SESSION_NAME", str(old))
    assert find_notebook_path(user_ns) == (old, "JPY_SESSION_NAME")
    assert "sessions-api skipped: no kernel id" in debug_log.text

    monkeypatch.delenv("JPY_SESSION_NAME")
    assert find_notebook_path(user_ns) == (new, "__session__")
    assert "JPY_SESSION_NAME is not set" in debug_log.text

    user_ns["__session__"] = None
    assert find_notebook_path(user_ns) == (vsc, "vscode")

    del user_ns["__vsc_ipynb_file__"]
    assert find_notebook_path(user_ns) == (None, "none")
    assert "vscode is not set" in debug_log.text


def test_stale_and_odd_values_are_passed_over(
    runtime_dir: Path,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    script = root / "script.py"
    script.write_text("", encoding="utf-8")
    monkeypatch.setenv("JPY_SESSION_NAME", str(root / "renamed-away.ipynb"))
    user_ns = {"__session__": str(script), "__vsc_ipynb_file__": 42}
    assert find_notebook_path(user_ns, kernel=KERNEL) == (None, "none")
    assert "no running Jupyter server" in debug_log.text
    assert "renamed-away.ipynb does not exist" in debug_log.text
    assert "script.py is not an .ipynb file" in debug_log.text
    assert "vscode is a int, not a path" in debug_log.text


def test_vscode_variable(runtime_dir: Path, tmp_path: Path) -> None:
    notebook = tmp_path / "analysis.ipynb"
    notebook.write_text("{}", encoding="utf-8")
    assert find_notebook_path({"__vsc_ipynb_file__": str(notebook)}) == (notebook, "vscode")


def test_relative_session_name_resolves_against_cwd(
    runtime_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "here.ipynb").write_text("{}", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JPY_SESSION_NAME", "here.ipynb")
    assert find_notebook_path({}) == (tmp_path / "here.ipynb", "JPY_SESSION_NAME")
