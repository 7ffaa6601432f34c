"""Child processes for the multi-process tests (run as ``python worker.py MODE STORE ...``).

Every mode talks to the store at STORE (a directory or ``.db`` path) and
reports through small files, never through pipes, so the parent can kill it
at any moment. Files are written atomically (temp file, fsync, rename).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import nbtrack
import nbtrack.store.sql_store  # imported up front: no import time after "go"


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``; a reader sees the old or the new content, never a mix."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def wait_for(path: Path, timeout: float = 60.0) -> None:
    """Spin until ``path`` exists."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {path}")
        time.sleep(0.001)


def kill_value(round_no: int, i: int) -> float:
    """The value the kill test logs at step ``i`` (NaN and -inf now and then)."""
    if i % 101 == 50:
        return math.nan
    if i % 211 == 7:
        return -math.inf
    return round_no * 1_000_000 + i * 0.5


def log_value(worker: int, i: int) -> float:
    """The value the concurrent-logging test logs at step ``i``."""
    return worker + i / 7


def open_new(args: argparse.Namespace) -> None:
    """Wait for the go file, then open the (new) store, create a run and log to it."""
    Path(args.ready).touch()
    wait_for(Path(args.go))
    client = nbtrack.TrackingClient(args.store)
    run = client.create_run("0", run_name=f"opener-{args.worker}")
    client.log_param(run.info.run_id, "worker", args.worker)
    client.log_metric(run.info.run_id, "x", float(args.worker), step=0)
    client.set_terminated(run.info.run_id)
    print(run.info.run_id)


def log_many(args: argparse.Namespace) -> None:
    """Log ``points`` values of metric ``m`` with the fluent API, flush, end the run."""
    nbtrack.set_tracking_uri(args.store)
    Path(args.ready).touch()
    wait_for(Path(args.go))
    run = nbtrack.start_run(run_name=f"logger-{args.worker}")
    nbtrack.log_param("worker", args.worker)
    for i in range(args.points):
        nbtrack.log_metric("m", log_value(args.worker, i))
        if args.flush_every and (i + 1) % args.flush_every == 0:
            nbtrack.flush()
    nbtrack.flush()
    nbtrack.end_run()
    print(run.info.run_id)


def shared_value(worker: int, i: int) -> float:
    """The value worker ``worker`` logs as its ``i``-th point of the shared run: unique."""
    return worker * 1_000_000 + i


def log_shared(args: argparse.Namespace) -> None:
    """Log ``points`` values of metric ``m`` with ``step=None`` to the run in --run-id-file."""
    client = nbtrack.TrackingClient(args.store)
    run_id = Path(args.run_id_file).read_text()
    client.get_run(run_id)  # the store is open before "go"
    Path(args.ready).touch()
    wait_for(Path(args.go))
    for i in range(args.points):
        client.log_metric(run_id, "m", shared_value(args.worker, i))
        if args.flush_every and (i + 1) % args.flush_every == 0:
            client.flush()
    client.flush()


def log_until_killed(args: argparse.Namespace) -> None:
    """Log forever, flushing every ``flush_every`` points and recording what is durable.

    The side file holds the number of points flushed so far; it is rewritten
    only after ``flush()`` has returned, so every point it counts must survive
    a SIGKILL.
    """
    nbtrack.set_tracking_uri(args.store)
    run = nbtrack.start_run(run_name=f"victim-{args.round}")
    nbtrack.log_param("round", args.round)
    nbtrack.flush()
    side = Path(args.side)
    write_atomic(side, "0")
    write_atomic(Path(args.run_id_file), run.info.run_id)
    i = 0
    while True:
        nbtrack.log_metric("m", kill_value(args.round, i), step=i)
        i += 1
        if i % args.flush_every == 0:
            nbtrack.flush()
            write_atomic(side, str(i))


def stay_alive(args: argparse.Namespace) -> None:
    """Start a run, log, flush, report the run id, and keep running until told to stop."""
    nbtrack.set_tracking_uri(args.store)
    run = nbtrack.start_run(run_name="alive")
    nbtrack.log_metric("m", 1.0, step=0)
    nbtrack.flush()
    write_atomic(Path(args.run_id_file), run.info.run_id)
    wait_for(Path(args.go), timeout=120)
    nbtrack.end_run()


def create_and_wait(args: argparse.Namespace) -> None:
    """Create a run with ``TrackingClient.create_run``, report its id; exit on go, not ending it."""
    client = nbtrack.TrackingClient(args.store)
    run = client.create_run("0", run_name="launched")
    client.flush()
    write_atomic(Path(args.run_id_file), run.info.run_id)
    wait_for(Path(args.go), timeout=120)


def write_run(args: argparse.Namespace) -> None:
    """Log to another process's run (id in --run-id-file), flush, say ready; on go log again, exit.

    The run is never ended here.
    """
    wait_for(Path(args.run_id_file), timeout=120)
    client = nbtrack.TrackingClient(args.store)
    run_id = Path(args.run_id_file).read_text()
    client.log_metric(run_id, "w", float(args.worker))
    client.flush()
    Path(args.ready).touch()
    wait_for(Path(args.go), timeout=120)
    client.log_metric(run_id, "w", float(args.worker) + 0.5)
    client.flush()


def search_loop(args: argparse.Namespace) -> None:
    """Search runs and read a metric history until the stop file appears.

    Every history read must be a contiguous prefix of steps that never
    shrinks. Prints the number of reads done.
    """
    client = nbtrack.TrackingClient(args.store)
    stop = Path(args.go)
    reads = 0
    seen = 0
    while not stop.exists() or reads == 0:
        if reads == 1:  # store open and pandas imported: the timed part starts
            Path(args.ready).touch()
        runs = client.search_runs(["0"])
        for run in runs:
            history = client.get_metric_history(run.info.run_id, "m")
            steps = [m.step for m in history]
            assert steps == list(range(len(steps))), "history is not a contiguous prefix"
            assert len(steps) >= seen, f"history shrank from {seen} to {len(steps)}"
            seen = len(steps)
        client.search_runs_frame(["0"], "metrics.m >= 0")
        reads += 1
    print(reads)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode")
    parser.add_argument("store")
    parser.add_argument("--worker", type=int, default=0)
    parser.add_argument("--round", type=int, default=0)
    parser.add_argument("--points", type=int, default=0)
    parser.add_argument("--flush-every", type=int, default=0)
    parser.add_argument("--ready", default="")
    parser.add_argument("--go", default="")
    parser.add_argument("--side", default="")
    parser.add_argument("--run-id-file", default="")
    args = parser.parse_args()
    modes = {
        "open-new": open_new,
        "log-many": log_many,
        "log-shared": log_shared,
        "log-until-killed": log_until_killed,
        "stay-alive": stay_alive,
        "create-and-wait": create_and_wait,
        "write-run": write_run,
        "search-loop": search_loop,
    }
    modes[args.mode](args)


if __name__ == "__main__":
    main()
