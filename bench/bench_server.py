"""Logging throughput while the JupyterLab side polls the nbtrack REST API.

Usage::

    python bench/bench_server.py            # 1,000,000 points per try, 3 tries each way
    python bench/bench_server.py --quick    # 200,000 points, 1 try each way (a smoke run)

One real ``jupyter server`` with the nbtrack extension (enabled by the shipped
``jupyter-config/server-config/nbtrack.json``, token auth) serves a store in a
fresh temp directory for the whole benchmark. Each try starts a fresh logging
process that creates a run and times ``nbtrack.log_metric("loss", v, step=i)``
for every point, until ``nbtrack.flush()`` returns (everything committed).
Tries alternate between:

* ``quiet``: nobody polls;
* ``polled``: a client (a thread of this script) requests ``runs``,
  ``runs/<id>`` and ``runs/<id>/history?key=loss`` of the growing run, one round
  every ~100 ms (the next round starts 100 ms after the previous one started, or
  at once if it took longer), as the labextension's status bar and detail view do;
* ``big``: the same, but the history requested is that of another run, finished,
  with 1,000,000 points (a detail view left open on a long run while another
  logs): the worst case for the server's CPU.

Printed: the median points/s of each mode, the ratio polled/quiet (goal: a drop
of at most 20%) and big/quiet, how many poll rounds ran and how long one took, and any
request that failed or any "database is locked" in the logger's or server's output.
Exits 1 if a request or the logger failed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CONFIG = REPO / "jupyter-config" / "server-config" / "nbtrack.json"
POLL_INTERVAL_S = 0.1
BIG_POINTS = 1_000_000

#: Makes the store, with a finished run holding BIG_POINTS points of "loss"; prints its id.
FILL = """
import sys
import nbtrack

client = nbtrack.TrackingClient(sys.argv[1])
run_id = client.create_run("0", run_name="big").info.run_id
points = int(sys.argv[2])
for start in range(0, points, 100_000):
    batch = range(start, min(points, start + 100_000))
    client.log_batch(run_id, metrics=[("loss", i * 0.25, 1_000 + i, i) for i in batch])
client.set_terminated(run_id)
print(run_id)
"""

#: The logging process: makes a run, says its id, waits for "go", logs, flushes, reports.
LOGGER = """
import json, sys, time
from pathlib import Path
import nbtrack

points, state = int(sys.argv[1]), Path(sys.argv[2])
with nbtrack.start_run(run_name="bench") as run:
    nbtrack.log_metric("warmup", 0.0)
    nbtrack.flush()
    (state / "run_id.tmp").write_text(run.info.run_id)
    (state / "run_id.tmp").replace(state / "run_id")
    while not (state / "go").exists():
        time.sleep(0.005)
    log_metric = nbtrack.log_metric
    started = time.perf_counter()
    for i in range(points):
        log_metric("loss", i * 0.5, step=i)
    nbtrack.flush()
    elapsed = time.perf_counter() - started
print(json.dumps({"elapsed": elapsed, "points": points}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - local
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    """A ``jupyter server`` subprocess with nbtrack enabled, serving the store at ``store``."""

    def __init__(self, work: Path, store: Path) -> None:
        config = work / "jupyter-config" / "jupyter_server_config.d"
        config.mkdir(parents=True)
        shutil.copy(SHIPPED_CONFIG, config / "nbtrack.json")
        root = work / "root"
        root.mkdir()
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = work / "server.log"
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(config.parent),
            "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
            "NBTRACK_TRACKING_URI": str(store),
        }
        args = [
            sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
        ]  # fmt: skip
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            try:
                if _get(f"{self.url}/nbtrack/api/status", self.token)[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"jupyter server did not start:\n{self.log.read_text()}")
            time.sleep(0.3)

    def stop(self) -> None:
        """Terminate the server."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Poller(threading.Thread):
    """Polls runs, runs/<id> and a history every ~100 ms until stopped."""

    def __init__(self, server: Server, run_id: str, history_run_id: str) -> None:
        super().__init__(daemon=True)
        self.server, self.run_id, self.history_run_id = server, run_id, history_run_id
        self.stop_event = threading.Event()
        self.rounds: list[float] = []
        self.failures: list[str] = []

    def run(self) -> None:
        api = f"{self.server.url}/nbtrack/api/"
        paths = ["runs", f"runs/{self.run_id}", f"runs/{self.history_run_id}/history?key=loss"]
        while not self.stop_event.is_set():
            started = time.perf_counter()
            for path in paths:
                status, body = _get(api + path, self.server.token)
                if status != 200:
                    self.failures.append(f"{status} {path}: {body[:200]!r}")
            took = time.perf_counter() - started
            self.rounds.append(took)
            self.stop_event.wait(max(0.0, POLL_INTERVAL_S - took))


def one_try(server: Server, points: int, mode: str, work: Path, big: str) -> dict[str, Any]:
    """One logging process in a mode (quiet, polled, big); its points/s and the poll rounds."""
    state = Path(tempfile.mkdtemp(dir=work, prefix="try-"))
    logger = subprocess.Popen(
        [sys.executable, "-c", LOGGER, str(points), str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NBTRACK_TRACKING_URI": str(work / "store")},
    )
    while not (state / "run_id").exists():
        if logger.poll() is not None:
            raise RuntimeError(logger.communicate()[1].decode())
        time.sleep(0.005)
    run_id = (state / "run_id").read_text()
    poller = Poller(server, run_id, big if mode == "big" else run_id)
    polled = mode != "quiet"
    if polled:
        poller.start()
        while not poller.rounds:  # the first round has landed: polling is under way
            time.sleep(0.005)
    (state / "go").touch()
    out, err = logger.communicate()
    if polled:
        poller.stop_event.set()
        poller.join()
    if logger.returncode != 0:
        raise RuntimeError(err.decode())
    result = json.loads(out)
    return {
        "rate": result["points"] / result["elapsed"],
        "elapsed": result["elapsed"],
        "rounds": poller.rounds,
        "failures": poller.failures,
        "locked": "locked" in err.decode(errors="replace"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 points, 1 try each way")
    parser.add_argument("--points", type=int, help="points per try (default 1,000,000)")
    parser.add_argument("--tries", type=int, help="tries per mode (default 3)")
    args = parser.parse_args()
    points = args.points or (200_000 if args.quick else 1_000_000)
    tries = args.tries or (1 if args.quick else 3)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="nbtrack-bench-server-") as tmp:
        work = Path(tmp)
        store = work / "store"
        # The store, and the big run, exist before the server and the loggers open it.
        filled = subprocess.run(
            [sys.executable, "-c", FILL, str(store), str(BIG_POINTS)],
            check=True,
            capture_output=True,
            text=True,
        )
        big = filled.stdout.strip()
        server = Server(work, store)
        results: dict[str, list[dict[str, Any]]] = {"quiet": [], "polled": [], "big": []}
        try:
            for i in range(tries):
                modes = ("quiet", "polled", "big")
                for mode in modes if i % 2 == 0 else modes[::-1]:
                    found = one_try(server, points, mode, work, big)
                    results[mode].append(found)
                    extra = ""
                    if found["rounds"]:
                        extra = (
                            f", {len(found['rounds'])} poll rounds, median "
                            f"{statistics.median(found['rounds']) * 1000:.0f} ms"
                        )
                    print(f"  {mode:6} try {i + 1}: {found['rate']:,.0f} points/s "
                          f"({found['elapsed']:.2f} s){extra}")  # fmt: skip
        finally:
            server.stop()
        server_log = server.log.read_text(errors="replace")
    quiet, polled, heavy = (statistics.median(r["rate"] for r in results[m]) for m in results)
    rounds = [t for r in results["polled"] for t in r["rounds"]]
    big_rounds = [t for r in results["big"] for t in r["rounds"]]
    failures = [f for mode in results.values() for r in mode for f in r["failures"]]
    locked = any(r["locked"] for mode in results.values() for r in mode) or (
        "database is locked" in server_log
    )
    drop = 1 - polled / quiet
    print(f"\nlogging {points:,} points per try, median of {tries} tries each way:")
    print(f"  quiet : {quiet:,.0f} points/s")
    round_ms = statistics.median(rounds) * 1000
    print(f"  polled: {polled:,.0f} points/s ({len(rounds)} poll rounds, one round median "
          f"{round_ms:.0f} ms, max {max(rounds) * 1000:.0f} ms)")  # fmt: skip
    big_ms = statistics.median(big_rounds) * 1000
    print(f"  big   : {heavy:,.0f} points/s ({len(big_rounds)} poll rounds of the "
          f"{BIG_POINTS:,}-point history, one round median {big_ms:.0f} ms)")  # fmt: skip
    print(f"  ratio polled/quiet: {polled / quiet:.2f} (drop {drop:.0%}; goal <= 20%: "
          f"{'PASS' if drop <= 0.20 else 'MISS'})")  # fmt: skip
    print(f"  ratio big/quiet: {heavy / quiet:.2f}")
    print(f"  failed requests: {len(failures)}; 'database is locked' seen: {locked}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    for failure in failures[:5]:
        print("  ", failure)
    sys.exit(1 if failures or locked else 0)


if __name__ == "__main__":
    main()
