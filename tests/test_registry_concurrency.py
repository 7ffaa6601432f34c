"""Processes registering the same model name at once get distinct, consecutive versions."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import nbtrack
from _models_helpers import iris_classifier
from nbtrack.store import locate

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    import nbtrack

    store, uri, ready, go, count = sys.argv[1:6]
    client = nbtrack.TrackingClient(store)
    client.search_registered_models()  # open the store before the start line
    Path(ready).touch()
    while not Path(go).exists():
        time.sleep(0.002)
    for _ in range(int(count)):
        print(client.register_model(uri, "iris").version, flush=True)
    """
)


@pytest.mark.slow
def test_concurrent_registrations_get_consecutive_distinct_versions(tmp_path: Path) -> None:
    clf, _ = iris_classifier()
    with nbtrack.start_run():
        info = nbtrack.sklearn.log_model(clf, "model")
    nbtrack.flush()
    processes, per_process = 3, 6
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(processes)]
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                os.environ[locate.ENV_TRACKING_URI],  # this test's store, on either backend
                info.model_uri,
                str(flag),
                str(go),
                str(per_process),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    deadline = time.monotonic() + 120
    while not all(flag.exists() for flag in ready):
        assert time.monotonic() < deadline, "children did not start"
        assert all(c.poll() is None for c in children), [c.communicate() for c in children]
        time.sleep(0.01)
    go.touch()
    seen: list[list[int]] = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert "locked" not in err
        seen.append([int(line) for line in out.split()])
    for versions in seen:
        assert len(versions) == per_process
        assert versions == sorted(versions)  # each process sees its own versions increase
    everything = sorted(v for versions in seen for v in versions)
    assert everything == list(range(1, processes * per_process + 1))

    client = nbtrack.TrackingClient(os.environ[locate.ENV_TRACKING_URI])
    found = client.search_model_versions("name = 'iris'", max_results=None)
    assert sorted(int(v.version) for v in found) == everything
    history = client.get_registry_history("iris")
    assert [e.action for e in history].count("create_model") == 1  # the model was made once
    created = [int(e.version or 0) for e in history if e.action == "create_version"]
    assert created == everything  # audit order is commit order
