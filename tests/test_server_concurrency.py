"""Reading through the server never blocks a process that is logging into the same store.

A real ``jupyter lab`` with the nbtrack extension is polled as fast as it answers
(run list, run detail, history, and now and then a tag written through the API)
while a separate process logs metrics at full speed into the same SQLite store.
Nothing may fail with "database is locked", and every point must land.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("jupyter_server")
pytest.importorskip("jupyterlab")

import nbtrack
from _jupyter_browser import start_lab
from _server_helpers import Reply, enabled_config_dir, fetch

POINTS = 400_000

#: The logging process: creates a run, says its id, waits for "go", logs POINTS points.
LOGGER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import nbtrack

    points, state = int(sys.argv[1]), Path(sys.argv[2])
    with nbtrack.start_run(run_name="logger") as run:
        (state / "run_id.tmp").write_text(run.info.run_id)
        (state / "run_id.tmp").replace(state / "run_id")
        while not (state / "go").exists():
            time.sleep(0.01)
        for i in range(points):
            nbtrack.log_metric("loss", i * 0.5, step=i)
    """
)


def value(i: int) -> float:
    """What the logger logs at step ``i``."""
    return i * 0.5


@pytest.mark.slow
def test_polling_the_api_never_blocks_a_logging_process(tmp_path: Path) -> None:
    nbtrack.TrackingClient().search_runs()  # create the store before both processes use it
    root = tmp_path / "root"
    root.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    env = {"JUPYTER_CONFIG_DIR": str(enabled_config_dir(tmp_path))}
    with start_lab(root, env=env) as lab:
        base = f"{lab.url}/nbtrack/api/"
        logger = subprocess.Popen(
            [sys.executable, "-c", LOGGER, str(POINTS), str(state)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            while not (state / "run_id").exists():
                assert logger.poll() is None, logger.communicate()
            run_id = (state / "run_id").read_text()
            failures: list[Reply] = []
            polls = 0
            while True:
                replies = [
                    fetch(base + "runs", lab.token),
                    fetch(base + f"runs/{run_id}", lab.token),
                    fetch(base + f"runs/{run_id}/history?key=loss", lab.token),
                ]
                if polls % 10 == 0:  # a write from the server's process, too
                    body = {"key": "polled", "value": str(polls)}
                    replies.append(fetch(base + f"runs/{run_id}/tags", lab.token,
                                        method="POST", body=body))  # fmt: skip
                failures += [r for r in replies if r.status != 200]
                polls += 1
                (state / "go").touch()  # the first poll round happens before logging starts
                if logger.poll() is not None:
                    break
            _, err = logger.communicate(timeout=120)
        finally:
            if logger.poll() is None:
                logger.kill()
                logger.wait()
        final = fetch(base + f"runs/{run_id}/history?key=loss&max_points=100", lab.token)
        server_log = lab.log.read_text(errors="replace")

    assert logger.returncode == 0, err.decode(errors="replace")
    assert not failures, [(r.status, r.body[:300]) for r in failures]
    assert "locked" not in err.decode(errors="replace")
    assert "locked" not in server_log
    assert polls >= 1
    run = nbtrack.TrackingClient().get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["polled"].isdigit()
    history = nbtrack.TrackingClient().get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(i, value(i)) for i in range(POINTS)]
    assert final.json()["total_points"] == POINTS
