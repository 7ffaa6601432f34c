"""``nbtrack models serve`` as a real process on loopback, and plain HTTP calls to it.

``start_server(args, cwd, env)`` runs the command line (uvicorn and all) on a
free port of 127.0.0.1 and waits for ``/ping``; ``stop_server`` ends it.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVE = "from nbtrack.cli import main; main()"


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]

    def request(
        self,
        method: str,
        path: str,
        body: bytes | Iterator[bytes] | None = None,
        content_type: str = "application/json",
        chunked: bool = False,
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = {"Content-Type": content_type} if body is not None else {}
            conn.request(method, path, body=body, headers=headers, encode_chunked=chunked)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def invoke(self, payload: Any) -> tuple[int, Any]:
        status, body = self.request("POST", "/invocations", json.dumps(payload).encode())
        return status, json.loads(body)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(args: list[str], cwd: Path, env: dict[str, str]) -> Server:
    port = _free_port()
    log = (cwd / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, *args, "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(port, process)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise AssertionError(Path(log.name).read_text())
        try:
            if server.request("GET", "/ping")[0] == 200:
                return server
        except OSError:
            pass
        assert time.monotonic() < deadline, Path(log.name).read_text()
        time.sleep(0.1)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(10)
