"""Benchmark the scoring server: ``nbtrack models serve`` vs ``mlflow models serve``.

Usage::

    pip install -e ".[test]"                 # scikit-learn, skops, uvicorn, MLflow
    python bench/bench_serving.py            # 10 s per measurement (about 2 minutes)
    python bench/bench_serving.py --quick    # 3 s per measurement, a smoke run

One model, saved once by ``nbtrack.sklearn.save_model``: LogisticRegression on
load_iris, with its signature. Both servers serve that same directory (MLflow
loads it through the ``python_function`` flavor, ``--env-manager local``, so no
environment is built and nothing is downloaded), one server at a time, each in
its own process started with the real interpreter, on 127.0.0.1.

For each server and payload (one row, and 100 rows, as ``dataframe_split``
JSON), after 50 warm-up requests, ``--clients`` threads (default 4) each keep
one HTTP/1.1 connection open and send requests back to back for
``--seconds``; the figure is completed requests per second. Every response is
checked to be 200 with the right predictions. Client threads share the machine
with the server, the same way for both. The ratio is nbtrack / MLflow.

Results are printed and written to ``bench/results/serving.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_FILE = BENCH_DIR / "results" / "serving.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(command: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[:3]} exited:\n{log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                conn.close()
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command[:3]} did not answer /ping within 120 s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(15)


def load(port: int, body: bytes, expected: list[Any], clients: int, seconds: float) -> float:
    """Requests per second with ``clients`` keep-alive connections sending back to back."""
    counts = [0] * clients
    errors: list[str] = []
    stop_at = 0.0
    start_line = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        for _ in range(50 // clients + 1):  # warm-up
            conn.request("POST", "/invocations", body, headers)
            conn.getresponse().read()
        start_line.wait()
        while time.perf_counter() < stop_at:
            conn.request("POST", "/invocations", body, headers)
            response = conn.getresponse()
            data = response.read()
            if response.status != 200 or json.loads(data)["predictions"] != expected:
                errors.append(f"{response.status}: {data[:200]!r}")
                break
            counts[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop_at = time.perf_counter() + 3600  # set properly once everyone has warmed up
    start_line.wait()
    began = time.perf_counter()
    stop_at = began + seconds
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"bad responses: {errors[:3]}")
    return sum(counts) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per measurement")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per measurement")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    args = parser.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 10.0)

    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import nbtrack.sklearn

    X, y = load_iris(return_X_y=True, as_frame=True)
    clf = LogisticRegression(max_iter=500).fit(X, y)
    payloads: dict[str, pd.DataFrame] = {
        "1 row": X.iloc[:1],
        "100 rows": X.sample(100, random_state=1),
    }
    results: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "seconds": seconds,
        "clients": args.clients,
        "servers": {},
    }
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="nbtrack-bench-serving-") as tmp:
        model_dir = Path(tmp) / "iris"
        nbtrack.sklearn.save_model(clf, model_dir, input_example=X[:5])
        servers = {
            "nbtrack": [
                *(sys.executable, "-c", "from nbtrack.cli import main; main()"),
                *("models", "serve", str(model_dir), "--host", "127.0.0.1", "--port"),
            ],
            "mlflow": [
                *(sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model_dir)),
                *("--env-manager", "local", "-h", "127.0.0.1", "-p"),
            ],
        }
        for name, command in servers.items():
            port = free_port()
            try:
                process = start([*command, str(port)], port, Path(tmp) / f"{name}.log")
            except RuntimeError as exc:
                print(f"{name}: could not start ({exc}); skipped")
                results["servers"][name] = {"error": str(exc)[:2000]}
                continue
            figures = {}
            try:
                for label, rows in payloads.items():
                    body = json.dumps(
                        {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
                    ).encode()
                    expected = clf.predict(rows).tolist()
                    rate = load(port, body, expected, args.clients, seconds)
                    figures[label] = rate
                    print(f"{name:8s} {label:9s} {rate:8.0f} requests/s")
            finally:
                stop(process)
            results["servers"][name] = figures
    ours, theirs = results["servers"].get("nbtrack", {}), results["servers"].get("mlflow", {})
    print()
    for label in payloads:
        if label in ours and label in theirs:
            ratio = ours[label] / theirs[label]
            results.setdefault("ratio", {})[label] = ratio
            print(f"{label:9s} nbtrack / mlflow = {ratio:.2f}x")
    print(f"load average at end: {os.getloadavg()}")
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS_FILE}")
    return 0 if "nbtrack" in ours and "1 row" in ours else 1


if __name__ == "__main__":
    sys.exit(main())
