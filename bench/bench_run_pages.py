"""The server's share of opening the Experiments view: every page of 10,000 runs.

Usage::

    python bench/bench_run_pages.py                  # builds a store (~30 s), 5 tries
    python bench/bench_run_pages.py --store DIR      # reuses (or builds) DIR/.nbtrack
    python bench/bench_run_pages.py --tries 9

The store: 10,000 finished runs in experiment "bench", 10 params and 5 metrics
each (the runs of ``bench_experiments_view.py``, without its long runs). Timed:

* ``http``: one real ``jupyter server`` with the nbtrack extension (token auth)
  answers ``GET runs?max_results=1000`` page after page (following
  ``next_page_token``) as the Experiments view loads them; from the first request
  until the last page's JSON is parsed here;
* ``store``: the same pages read in-process by the store's read side
  (``store.queries.run_summaries``), without HTTP or JSON.

Only the REST API is used for ``http``, so the figure compares code versions:
run it with ``PYTHONPATH`` pointing at another checkout's ``src`` for "before".
Prints each try, the median and the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_experiments_view import FILL
from bench_server import Server, _get

RUNS = 10_000
PAGE = 1000


def build_store(root: Path) -> float:
    """Fill ``root/.nbtrack`` with RUNS runs (in a fresh process); returns the seconds it took."""
    start = time.perf_counter()
    code = FILL % {"runs": RUNS, "long": 0, "metrics": 0, "steps": 0}
    subprocess.run([sys.executable, "-c", code, str(root / ".nbtrack")], check=True)
    return time.perf_counter() - start


def all_pages_http(server: Server) -> tuple[float, int]:
    """Seconds to fetch (and parse) every page, and how many runs came."""
    api = f"{server.url}/nbtrack/api/runs?max_results={PAGE}"
    start = time.perf_counter()
    count, token = 0, None
    while True:
        status, body = _get(api + (f"&page_token={token}" if token else ""), server.token)
        if status != 200:
            raise SystemExit(f"GET runs answered {status}: {body[:300]!r}")
        page = json.loads(body)
        count += len(page["runs"])
        token = page["next_page_token"]
        if not token:
            return time.perf_counter() - start, count


def all_pages_store(uri: str) -> tuple[float, int]:
    """Seconds to read every page through the store's read side (no HTTP, no JSON)."""
    from nbtrack.store import get_store

    queries = get_store(uri, readonly=True).queries
    start = time.perf_counter()
    count, offset = 0, 0
    while True:
        page = queries.run_summaries(None, None, [], "active", PAGE, offset)
        count += len(page.runs)
        offset += len(page.runs)
        if not page.more:
            return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, help="a directory whose .nbtrack to use or build")
    parser.add_argument("--tries", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nbtrack-bench-pages-"))
    root = args.store or work / "store"
    root.mkdir(parents=True, exist_ok=True)
    if not (root / ".nbtrack" / "nbtrack.db").exists():
        print(f"building the store in {root} ...", flush=True)
        print(f"  built in {build_store(root):.0f} s", flush=True)
    import nbtrack
    from nbtrack.store import locate

    print(f"nbtrack from {Path(nbtrack.__file__).parent}")
    load_start = os.getloadavg()[0]
    results: dict[str, list[float]] = {"http": [], "store": []}
    server = Server(work, root / ".nbtrack")
    try:
        all_pages_http(server)  # warm-up: the server opens the store
        for i in range(args.tries):
            seconds, count = all_pages_http(server)
            results["http"].append(seconds)
            print(f"http  try {i + 1}: {count:,} runs in {seconds:.3f} s", flush=True)
    finally:
        server.stop()
    uri = locate.normalize_tracking_uri(root / ".nbtrack")
    has_read_side = hasattr(nbtrack.store.get_store(uri, readonly=True), "queries")
    for i in range(args.tries if has_read_side else 0):
        seconds, count = all_pages_store(uri)
        results["store"].append(seconds)
        print(f"store try {i + 1}: {count:,} runs in {seconds:.3f} s", flush=True)
    for name, tries in results.items():
        if tries:
            print(f"{name}: median {statistics.median(tries):.3f} s, best {min(tries):.3f} s")
    print(f"load average {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end "
          f"({os.cpu_count()} cores)")  # fmt: skip


if __name__ == "__main__":
    main()
