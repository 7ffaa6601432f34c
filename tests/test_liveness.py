"""A run lives while any process that writes it lives (issue 11, point 11).

A launcher creates a run with ``TrackingClient.create_run`` and exits; workers
(real processes) keep logging to it. MLflow keeps such a run RUNNING; nbtrack
used to mark it KILLED at the next open because its creator was gone. Now
every process that writes a run is recorded in ``run_writers`` with a
heartbeat, and the run is KILLED only when none of them lives.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nbtrack
from _worker import WORKER
from nbtrack.store import _liveness, close_all

pytestmark = pytest.mark.slow


def spawn(tmp: Path, name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    err = tmp / f"{name}.err"
    with err.open("wb") as e:
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), *args], stdout=subprocess.DEVNULL, stderr=e
        )
    return proc, err


def wait_for_file(path: Path, proc: subprocess.Popen[bytes], err: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"child exited with {proc.returncode}:\n{err.read_text()}")
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.005)


def status_after_reopening(store: Path, run_id: str) -> str:
    """The run's status as a process opening the store afresh leaves it."""
    close_all()
    return nbtrack.TrackingClient(store).get_run(run_id).info.status


def writer_rows(store: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(store / "nbtrack.db")
    try:
        return conn.execute("SELECT run_pk, host, pid FROM run_writers ORDER BY pid").fetchall()
    finally:
        conn.close()


def launch_run_with_workers(
    tmp_path: Path, store: Path, workers: int
) -> tuple[str, list[subprocess.Popen[bytes]], list[Path], Path]:
    """A launcher creates a run and exits once ``workers`` processes have logged to it.

    Returns the run id, the worker processes, their stderr files and their go file.
    """
    nbtrack.TrackingClient(store).search_runs()  # the store exists before the children
    close_all()
    run_id_file, launcher_go, workers_go = (
        tmp_path / "run-id",
        tmp_path / "launcher-go",
        tmp_path / "workers-go",
    )
    launcher, launcher_err = spawn(
        tmp_path,
        "launcher",
        "create-and-wait",
        str(store),
        f"--run-id-file={run_id_file}",
        f"--go={launcher_go}",
    )
    wait_for_file(run_id_file, launcher, launcher_err)
    procs, errs = [], []
    for i in range(workers):
        ready = tmp_path / f"ready-{i}"
        proc, err = spawn(
            tmp_path,
            f"worker-{i}",
            "write-run",
            str(store),
            f"--worker={i}",
            f"--run-id-file={run_id_file}",
            f"--ready={ready}",
            f"--go={workers_go}",
        )
        procs.append(proc)
        errs.append(err)
        wait_for_file(ready, proc, err)
    launcher_go.touch()
    assert launcher.wait(60) == 0, launcher_err.read_text()
    return run_id_file.read_text(), procs, errs, workers_go


def test_a_run_lives_while_a_process_writing_it_lives(tmp_path: Path) -> None:
    store = tmp_path / "store"
    run_id, workers, errs, go = launch_run_with_workers(tmp_path, store, workers=2)
    try:
        # The launcher is gone; the workers still log: twice reopened, still RUNNING.
        assert status_after_reopening(store, run_id) == "RUNNING"
        assert status_after_reopening(store, run_id) == "RUNNING"
        assert sorted(row[2] for row in writer_rows(store)) == sorted(p.pid for p in workers)
    finally:
        go.touch()
    for proc, err in zip(workers, errs, strict=True):
        assert proc.wait(60) == 0, err.read_text()
    # The last writer has exited without ending the run: now it is orphaned.
    assert status_after_reopening(store, run_id) == "KILLED"
    client = nbtrack.TrackingClient(store)
    history = client.get_metric_history(run_id, "w")
    assert sorted(p.value for p in history) == [0.0, 0.5, 1.0, 1.5]  # nothing lost
    run = client.get_run(run_id)
    assert run.info.end_time is not None
    assert run.info.end_time >= max(p.timestamp for p in history)
    assert writer_rows(store) == []


def test_a_run_whose_last_writer_is_killed_is_marked_killed(tmp_path: Path) -> None:
    store = tmp_path / "store"
    run_id, workers, _, go = launch_run_with_workers(tmp_path, store, workers=1)
    (worker,) = workers
    try:
        assert status_after_reopening(store, run_id) == "RUNNING"
        worker.send_signal(signal.SIGKILL)
        worker.wait(60)
        assert status_after_reopening(store, run_id) == "KILLED"
    finally:
        go.touch()
    client = nbtrack.TrackingClient(store)
    assert [p.value for p in client.get_metric_history(run_id, "w")] == [0.0]


def test_writers_on_other_hosts_count_while_their_heartbeat_is_fresh(tmp_path: Path) -> None:
    """A writer elsewhere cannot be asked about its pid: a fresh heartbeat keeps the run."""
    store = tmp_path / "store"
    client = nbtrack.TrackingClient(store)
    run_id = client.create_run("0").info.run_id
    client.flush()
    close_all()
    db = store / "nbtrack.db"
    now = _liveness.now_ms()

    def execute(sql: str, *args: object) -> None:
        conn = sqlite3.connect(db)
        try:
            conn.execute(sql, args)
            conn.commit()
        finally:
            conn.close()

    # The creator "died" (a pid that cannot exist); one writer on another host remains.
    execute("UPDATE runs SET pid = 0 WHERE run_id = ?", run_id)
    execute("DELETE FROM run_writers")
    execute("INSERT INTO run_writers VALUES (1, 'elsewhere', 4242, ?)", now)
    assert status_after_reopening(store, run_id) == "RUNNING"
    stale = now - _liveness.STALE_AFTER_MS - 1000
    execute("UPDATE run_writers SET heartbeat = ?", stale)
    assert status_after_reopening(store, run_id) == "KILLED"


def _pid_free_here(low: int = 300, high: int = 20_000) -> int:
    """A pid no process of this (the initial) pid namespace has now."""
    return next(pid for pid in range(low, high) if not Path(f"/proc/{pid}").exists())


@pytest.mark.skipif(
    shutil.which("unshare") is None or os.geteuid() != 0,
    reason="needs root and unshare(1) to start a process in a pid namespace of its own",
)
def test_a_run_written_from_another_pid_namespace_of_this_host_is_not_killed(
    tmp_path: Path,
) -> None:
    """A container's view of this host: the same host name, its own pids.

    The child runs in a new pid namespace (``unshare --pid``) and creates a run
    with a pid that no process has out here. Opening the store from here must
    not take that live run for dead (it did when only the host name was
    compared); the heartbeat decides, as for another host.
    """
    store = tmp_path / "store"
    nbtrack.TrackingClient(store).search_runs()  # the store exists before the child
    close_all()
    target = _pid_free_here()
    # In the new namespace sh is pid 1 and each /bin/true takes the next pid, so
    # the worker started after them gets ``target``.
    burn = f'i=0; while [ $i -lt {target - 2} ]; do /bin/true; i=$((i+1)); done; "$0" "$@"'
    run_id_file, go, err = tmp_path / "run-id", tmp_path / "go", tmp_path / "child.err"
    env = {**os.environ, "PYTHONPATH": str(Path(nbtrack.__file__).parents[1])}
    with err.open("wb") as e:
        child = subprocess.Popen(
            [
                *("unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", burn),
                *(sys.executable, str(WORKER), "create-and-wait", str(store)),
                *(f"--run-id-file={run_id_file}", f"--go={go}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=e,
            env=env,
        )
    try:
        wait_for_file(run_id_file, child, err)
        run_id = run_id_file.read_text()
        conn = sqlite3.connect(store / "nbtrack.db")
        try:
            host, pid = conn.execute(
                "SELECT host, pid FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        finally:
            conn.close()
        assert pid == target
        assert not _liveness.pid_alive(pid)  # out here, that pid is nobody
        assert status_after_reopening(store, run_id) == "RUNNING"
        assert status_after_reopening(store, run_id) == "RUNNING"
        assert host.startswith(f"{_liveness.HOST.split('/')[0]}/pidns:")
        assert host != _liveness.HOST
    finally:
        go.touch()
    assert child.wait(60) == 0, err.read_text()
    # Gone without ending the run: like a writer on another host, the run is
    # orphaned once its heartbeat is stale.
    conn = sqlite3.connect(store / "nbtrack.db")
    try:
        stale = _liveness.now_ms() - _liveness.STALE_AFTER_MS - 1000
        conn.execute("UPDATE runs SET heartbeat = ? WHERE run_id = ?", (stale, run_id))
        conn.execute("UPDATE run_writers SET heartbeat = ?", (stale,))
        conn.commit()
    finally:
        conn.close()
    assert status_after_reopening(store, run_id) == "KILLED"
