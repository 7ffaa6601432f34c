"""Many processes on one store: creation races, concurrent logging, reads during writes.

Every child is a real interpreter running ``tests/helpers/worker.py``; its
output goes to files (no pipes to fill up) and is checked for lock errors
and tracebacks. Each test runs on a SQLite store and on a PostgreSQL schema
(``backend``), and counts what the database holds directly, not through nbtrack.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import nbtrack
from _backends import Backend
from _worker import WORKER, load_worker
from nbtrack.store import close_all
from nbtrack.store.migrations import HEAD_REVISION

PROCESSES = 8
POINTS = 10_000


helper = load_worker()


@dataclass
class Child:
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        rc = self.proc.wait(timeout)
        return rc, self.out.read_text(), self.err.read_text()


def spawn(tmp: Path, name: str, *args: str) -> Child:
    out, err = tmp / f"{name}.out", tmp / f"{name}.err"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen([sys.executable, str(WORKER), *args], stdout=o, stderr=e)
    return Child(proc, out, err)


def release_when_ready(ready: list[Path], go: Path, children: list[Child]) -> None:
    """Create the go file once every child has said it is ready (or fail if one died)."""
    deadline = time.monotonic() + 120
    while not all(p.exists() for p in ready):
        for child in children:
            if child.proc.poll() is not None:
                pytest.fail(f"child exited early: {child.err.read_text()}")
        assert time.monotonic() < deadline, "children never became ready"
        time.sleep(0.005)
    go.touch()


def assert_clean(name: str, rc: int, err: str) -> None:
    assert rc == 0, f"{name} exited with {rc}:\n{err}"
    assert "locked" not in err.lower(), f"{name} hit a lock error:\n{err}"
    assert "Traceback" not in err, f"{name} raised:\n{err}"


@pytest.mark.slow
def test_processes_open_a_brand_new_store_at_once(tmp_path: Path, backend: Backend) -> None:
    store = backend.store
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(PROCESSES)]
    children = [
        spawn(
            tmp_path,
            f"opener-{i}",
            "open-new",
            str(store),
            f"--worker={i}",
            f"--ready={ready[i]}",
            f"--go={go}",
        )
        for i in range(PROCESSES)
    ]
    release_when_ready(ready, go, children)

    run_ids = []
    for i, child in enumerate(children):
        rc, out, err = child.finish()
        assert_clean(f"opener {i}", rc, err)
        run_ids.append(out.strip())

    assert backend.sql("SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]
    assert backend.sql("SELECT experiment_id, name FROM experiments") == [(0, "Default")]
    backend.assert_intact()
    client = nbtrack.TrackingClient(store)
    runs = client.search_runs(["0"])
    assert sorted(r.info.run_id for r in runs) == sorted(run_ids)
    assert len(set(run_ids)) == PROCESSES
    for run in runs:
        worker = int(run.info.run_name.removeprefix("opener-"))
        assert run.info.status == "FINISHED"
        assert run.data.params == {"worker": str(worker)}
        assert run.data.metrics == {"x": float(worker)}


@pytest.mark.slow
def test_processes_log_ten_thousand_points_each(tmp_path: Path, backend: Backend) -> None:
    store = backend.store
    nbtrack.TrackingClient(store).search_runs()  # create the store; the race is tested above
    close_all()
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(PROCESSES)]
    children = [
        spawn(
            tmp_path,
            f"logger-{i}",
            "log-many",
            str(store),
            f"--worker={i}",
            f"--points={POINTS}",
            f"--ready={ready[i]}",
            f"--go={go}",
        )
        for i in range(PROCESSES)
    ]
    release_when_ready(ready, go, children)
    run_ids: dict[int, str] = {}
    for i, child in enumerate(children):
        rc, out, err = child.finish()
        assert_clean(f"logger {i}", rc, err)
        run_ids[i] = out.strip()

    log_value = helper.log_value
    backend.assert_intact()
    sql = backend.sql
    for worker, run_id in run_ids.items():
        (run_pk,) = sql("SELECT run_pk FROM runs WHERE run_id = ?", run_id)[0]
        count, low, high, distinct = sql(
            "SELECT count(*), min(step), max(step), count(DISTINCT step) FROM metrics "
            "WHERE run_pk = ?",
            run_pk,
        )[0]
        assert (count, low, high, distinct) == (POINTS, 0, POINTS - 1, POINTS)
        values = sql("SELECT step, value FROM metrics WHERE run_pk = ? ORDER BY step", run_pk)
        assert values == [(i, log_value(worker, i)) for i in range(POINTS)]
        latest = sql(
            "SELECT step, value, min_value, max_value FROM latest_metrics WHERE run_pk = ?",
            run_pk,
        )
        last = log_value(worker, POINTS - 1)
        assert latest == [(POINTS - 1, last, log_value(worker, 0), last)]

    client = nbtrack.TrackingClient(store)
    for worker, run_id in run_ids.items():
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert run.data.metrics == {"m": log_value(worker, POINTS - 1)}
        assert run.data.params == {"worker": str(worker)}
    assert sql("SELECT count(*) FROM metrics") == [(PROCESSES * POINTS,)]


@pytest.mark.slow
def test_processes_logging_automatic_steps_to_one_key_lose_nothing(
    tmp_path: Path, backend: Backend
) -> None:
    """8 processes x 10,000 points with ``step=None`` on one run and key: 80,000 distinct steps.

    Each process's points keep their order, and the series' latest, min and max
    are those of all the points.
    """
    store = backend.store
    client = nbtrack.TrackingClient(store)
    run_id = client.create_run("0", run_name="shared").info.run_id
    client.log_metric(run_id, "m", -1.0, step=-5)  # auto steps start at 0 all the same
    client.flush()
    run_id_file = tmp_path / "run-id"
    run_id_file.write_text(run_id)
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(PROCESSES)]
    children = [
        spawn(
            tmp_path,
            f"shared-{i}",
            "log-shared",
            str(store),
            f"--worker={i}",
            f"--points={POINTS}",
            f"--flush-every={(i + 1) * 700}",  # commits of every size, interleaved
            f"--run-id-file={run_id_file}",
            f"--ready={ready[i]}",
            f"--go={go}",
        )
        for i in range(PROCESSES)
    ]
    release_when_ready(ready, go, children)
    for i, child in enumerate(children):
        rc, _, err = child.finish()
        assert_clean(f"logger {i}", rc, err)

    total = PROCESSES * POINTS
    rows = backend.sql(
        "SELECT m.step, m.value FROM metrics m JOIN runs r ON r.run_pk = m.run_pk "
        "WHERE r.run_id = ? AND m.step >= 0 ORDER BY m.step",
        run_id,
    )
    assert len(rows) == total
    assert [step for step, _ in rows] == list(range(total))
    by_worker: dict[int, list[float]] = {}
    for _, value in rows:
        by_worker.setdefault(int(value) // 1_000_000, []).append(value)
    shared_value = helper.shared_value
    for worker in range(PROCESSES):  # all there, in the order each process logged them
        assert by_worker[worker] == [shared_value(worker, i) for i in range(POINTS)]
    latest = backend.sql(
        "SELECT l.step, l.value, l.min_value, l.max_value FROM latest_metrics l "
        "JOIN runs r ON r.run_pk = l.run_pk WHERE r.run_id = ?",
        run_id,
    )
    last_value = rows[-1][1]
    assert latest == [(total - 1, last_value, -1.0, shared_value(PROCESSES - 1, POINTS - 1))]
    history = client.get_metric_history(run_id, "m")
    assert len(history) == total + 1


@pytest.mark.slow
def test_reads_never_fail_while_another_process_writes(tmp_path: Path, backend: Backend) -> None:
    store = backend.store
    client = nbtrack.TrackingClient(store)
    client.search_runs()  # the store exists before the children start
    go, stop = tmp_path / "go", tmp_path / "stop"
    writer_ready, reader_ready = tmp_path / "writer-ready", tmp_path / "reader-ready"
    writer = spawn(
        tmp_path,
        "writer",
        "log-many",
        str(store),
        "--points=60000",
        "--flush-every=200",
        f"--ready={writer_ready}",
        f"--go={go}",
    )
    reader = spawn(
        tmp_path, "reader", "search-loop", str(store), f"--ready={reader_ready}", f"--go={stop}"
    )

    # A reader thread in this process as well, with its own store and writer thread.
    thread_reads = 0
    thread_errors: list[BaseException] = []

    def read_in_thread() -> None:
        nonlocal thread_reads
        try:
            while not stop.exists():
                for run in client.search_runs(["0"], "metrics.m >= 0"):
                    history = client.get_metric_history(run.info.run_id, "m")
                    assert [m.step for m in history] == list(range(len(history)))
                thread_reads += 1
        except BaseException as exc:
            thread_errors.append(exc)

    release_when_ready([writer_ready, reader_ready], go, [writer, reader])
    thread = threading.Thread(target=read_in_thread)
    thread.start()
    rc, out, err = writer.finish()
    stop.touch()
    thread.join(60)
    assert_clean("writer", rc, err)
    rc, reads, err = reader.finish()
    assert_clean("reader", rc, err)
    assert not thread_errors, thread_errors
    assert int(reads) >= 3  # the reader process overlapped the writer
    assert thread_reads > 0
    history = client.get_metric_history(out.strip(), "m")
    assert [m.step for m in history] == list(range(60_000))
