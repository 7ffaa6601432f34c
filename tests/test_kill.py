"""SIGKILL a logging process at random moments: what it flushed survives, its run ends KILLED.

The child (``tests/helpers/worker.py log-until-killed``) logs metric ``m`` at
steps 0, 1, 2, ... and after every ``nbtrack.flush()`` records how many points
were flushed in a side file. The side file is rewritten only after flush
returned, so every point it counts is acknowledged as durable.
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nbtrack
from _backends import Backend
from _worker import WORKER, load_worker
from nbtrack.store import close_all

ROUNDS = 10


helper = load_worker()
kill_value = helper.kill_value


def spawn(tmp: Path, name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    err = tmp / f"{name}.err"
    with err.open("wb") as e:
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), *args], stdout=subprocess.DEVNULL, stderr=e
        )
    return proc, err


def wait_for_file(path: Path, proc: subprocess.Popen[bytes], err: Path) -> str:
    deadline = time.monotonic() + 60
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"child exited with {proc.returncode}:\n{err.read_text()}")
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.002)
    return path.read_text()


def wait_until_zombie(pid: int) -> None:
    """Wait until a killed, unreaped child shows as a zombie (state Z)."""
    stat = Path(f"/proc/{pid}/stat")
    deadline = time.monotonic() + 10
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the killed child never became a zombie"
        time.sleep(0.001)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_round(client: nbtrack.TrackingClient, run_id: str, round_no: int, flushed: int) -> int:
    """Assert the run kept every flushed point (and only a prefix); returns the points kept."""
    history = client.get_metric_history(run_id, "m")
    kept = len(history)
    assert kept >= flushed, f"round {round_no}: {flushed} points were flushed, {kept} kept"
    # Batches commit whole and in order: what survives is a prefix of what was logged.
    assert [m.step for m in history] == list(range(kept))
    for m in history:
        assert same(m.value, kill_value(round_no, m.step)), (m, kill_value(round_no, m.step))
    run = client.get_run(run_id)
    assert run.data.params == {"round": str(round_no)}
    if kept:
        assert same(run.data.metrics["m"], history[-1].value)
        assert run.info.end_time is not None
        assert run.info.end_time >= max(m.timestamp for m in history)
    else:
        assert run.data.metrics == {}
    return kept


@pytest.mark.slow
def test_sigkill_mid_logging_loses_nothing_flushed(tmp_path: Path, backend: Backend) -> None:
    store = backend.store
    rng = random.Random(20240611)
    finished: list[tuple[str, int, int]] = []  # (run_id, round, points kept)
    for round_no in range(ROUNDS):
        side = tmp_path / f"flushed-{round_no}"
        run_id_file = tmp_path / f"run-id-{round_no}"
        proc, err = spawn(
            tmp_path,
            f"victim-{round_no}",
            "log-until-killed",
            store,
            f"--round={round_no}",
            f"--flush-every={rng.choice([1, 7, 100, 500, 2000])}",
            f"--side={side}",
            f"--run-id-file={run_id_file}",
        )
        run_id = wait_for_file(run_id_file, proc, err)
        time.sleep(rng.uniform(0.0, 0.6))
        assert proc.poll() is None, err.read_text()
        os.kill(proc.pid, signal.SIGKILL)
        reap_first = round_no % 2 == 0
        if reap_first:
            assert proc.wait(30) == -signal.SIGKILL
        else:
            # Opening the store while the dead child is still a zombie must see it as dead.
            wait_until_zombie(proc.pid)
        flushed = int(side.read_text())

        backend.assert_intact()
        close_all()  # the next client opens the store afresh, which marks orphans
        client = nbtrack.TrackingClient(store)
        assert client.get_run(run_id).info.status == "KILLED"
        kept = check_round(client, run_id, round_no, flushed)
        finished.append((run_id, round_no, kept))
        if not reap_first:
            assert proc.wait(30) == -signal.SIGKILL
        assert "Traceback" not in err.read_text()
        # Earlier victims keep their points and their status.
        for old_id, _, old_kept in finished:
            assert len(client.get_metric_history(old_id, "m")) == old_kept
            assert client.get_run(old_id).info.status == "KILLED"

    assert sum(kept for _, _, kept in finished) > 0, "no round got to log anything"
    close_all()
    backend.assert_intact()
    client = nbtrack.TrackingClient(store)
    for run_id, round_no, kept in finished:
        assert check_round(client, run_id, round_no, kept) == kept


@pytest.mark.slow
def test_run_of_a_live_process_is_not_marked_killed(tmp_path: Path, backend: Backend) -> None:
    store = backend.store
    run_id_file, go = tmp_path / "run-id", tmp_path / "go"
    proc, err = spawn(
        tmp_path, "alive", "stay-alive", store, f"--run-id-file={run_id_file}", f"--go={go}"
    )
    try:
        run_id = wait_for_file(run_id_file, proc, err)
        for _ in range(2):  # two fresh opens: neither may take the run from its live owner
            close_all()
            client = nbtrack.TrackingClient(store)
            run = client.get_run(run_id)
            assert run.info.status == "RUNNING"
            assert run.info.end_time is None
            assert client.get_metric_history(run_id, "m")[0].value == 1.0
    finally:
        go.touch()
    assert proc.wait(60) == 0, err.read_text()
    close_all()
    assert nbtrack.TrackingClient(store).get_run(run_id).info.status == "FINISHED"


def test_run_of_this_process_survives_reopening(backend: Backend) -> None:
    store = backend.store
    client = nbtrack.TrackingClient(store)
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "m", 2.0)
    close_all()
    client = nbtrack.TrackingClient(store)
    assert client.get_run(run_id).info.status == "RUNNING"
    assert client.get_run(run_id).data.metrics == {"m": 2.0}
    client.set_terminated(run_id)
    assert client.get_run(run_id).info.status == "FINISHED"
