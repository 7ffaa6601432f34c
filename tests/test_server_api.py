"""The nbtrack jupyter_server extension: every endpoint, against real stores and servers.

Most tests run the server in-process with pytest-jupyter's ``jp_serverapp`` and
``jp_fetch`` (its fixtures are imported into this module only, so its autouse
fixtures touch no other test). The last test starts a real ``jupyter lab`` with
the shipped config file and unauthenticated access off, and proves every route
refuses a request without the token.
"""

from __future__ import annotations

import copy
import http.cookiejar
import json
import math
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import nbformat
import pytest

pytest.importorskip("jupyter_server")
pytest.importorskip("pytest_jupyter")

from click.testing import CliRunner
from IPython.core.interactiveshell import InteractiveShell
from pytest_jupyter.jupyter_server import *  # noqa: F403 - its fixtures, for this module only

import nbtrack
from _server_helpers import (
    NOTEBOOK_CELLS,
    Api,
    api_caller,
    enabled_config_dir,
    error,
    fetch,
    notebook_run,
    ok,
)
from _store_files import tree_state
from _ui_helpers import make_runs
from nbtrack.cli import main
from nbtrack.server import _handlers
from nbtrack.server._view_handlers import VIEW_ROUTES
from nbtrack.store import close_all, locate
from nbtrack.store.queries import SeriesCache

#: A child that starts a run, logs one point, says the run's id and waits to be killed.
DYING_LOGGER = """
import time, nbtrack
run = nbtrack.start_run()
nbtrack.log_metric("x", 1.0)
nbtrack.flush()
print(run.info.run_id, flush=True)
time.sleep(600)
"""

ENABLED: dict[str, Any] = {"ServerApp": {"jpserver_extensions": {"nbtrack": True}}}


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """nbtrack enabled; a test may pass NbtrackExtension settings by indirect parametrization.

    ``{tmp}`` in a string setting stands for the test's ``tmp_path``.
    """
    config = copy.deepcopy(ENABLED)
    settings = getattr(request, "param", {})
    config["NbtrackExtension"] = {
        name: value.format(tmp=tmp_path) if isinstance(value, str) else value
        for name, value in settings.items()
    }
    return config


@pytest.fixture
def api(jp_fetch: Any, jp_asyncio_loop: Any) -> Api:
    """``api("runs", params=..., method=..., body=..., headers=...)``: one call to nbtrack/api."""
    return api_caller(jp_fetch, jp_asyncio_loop)


@pytest.fixture
def notebook_run_id(ip: InteractiveShell) -> str:
    """A run made by notebook cells (timeline, snapshot, environment).

    Tests list it before ``api``: it must exist before the in-process server does,
    since finding the notebook asks ipykernel for its app, which clashes with the
    ServerApp singleton of the same process.
    """
    return notebook_run(ip)


def files_under(root: Path) -> set[Path]:
    """Every file and directory below ``root``, except the Jupyter server's own runtime files.

    The server writes its runtime directory (under pytest-jupyter's ``tmp_path``)
    when it gets to it, which under load can be during the test.
    """
    return {path for path in root.rglob("*") if "runtime" not in path.relative_to(root).parts}


# -- which store -----------------------------------------------------------------------


def test_missing_store_is_empty_and_creates_nothing(
    api: Api, jp_root_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(locate.ENV_TRACKING_URI)
    if any((d / ".nbtrack").exists() for d in jp_root_dir.resolve().parents):
        pytest.skip("a .nbtrack directory above the test's root would be found")
    (jp_root_dir / "sub").mkdir()
    before = files_under(tmp_path)
    for notebook in (None, "sub/a.ipynb", "new/b.ipynb"):
        params = {"notebook": notebook} if notebook else {}
        status = ok(api("status", params=params))
        assert status["store_exists"] is False
        # Where the kernel would create it: the nearest .nbtrack upward, else the
        # project's root (no git work tree here: the server's root), wherever the notebook.
        where = jp_root_dir / ".nbtrack" / "nbtrack.db"
        assert status["tracking_uri"] == locate.sqlite_uri(where)
        assert status["store_path"] == str(where.parent.resolve())
        assert status["store_problem"] is None
        assert status["version"] == nbtrack.__version__
        assert ok(api("experiments", params=params)) == {"experiments": []}
        assert ok(api("runs", params=params)) == {"runs": [], "next_page_token": None}
        for path in ("runs/0123", "runs/0123/history", "runs/0123/snapshot"):
            reply = api(*path.split("/"), params={**params, "key": "loss"})
            assert "there is no store" in error(reply, 404)
        assert "there is no store" in error(
            api("runs", "0123", "delete", method="POST", body={}), 404
        )
    assert files_under(tmp_path) == before
    # A store named by the environment that does not exist yet is not created either.
    monkeypatch.setenv(locate.ENV_TRACKING_URI, str(tmp_path / "later" / ".nbtrack"))
    assert ok(api("status"))["store_exists"] is False
    assert ok(api("runs")) == {"runs": [], "next_page_token": None}
    assert files_under(tmp_path) == before


def test_store_is_found_from_the_notebook_directory(
    api: Api, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(locate.ENV_TRACKING_URI)
    project = jp_root_dir / "project"
    (project / "sub").mkdir(parents=True)
    client = nbtrack.TrackingClient(project / ".nbtrack")
    make_runs(client, 2)
    found = ok(api("runs", params={"notebook": "project/sub/a.ipynb"}))
    assert {r["run_name"] for r in found["runs"]} == {"run-0", "run-1"}
    status = ok(api("status", params={"notebook": "/project/sub/a.ipynb"}))
    assert status["store_exists"] is True
    assert status["tracking_uri"] == client.tracking_uri
    assert ok(api("status"))["store_exists"] is False  # the root has no store of its own
    assert "outside the server's root" in error(
        api("runs", params={"notebook": "../elsewhere/a.ipynb"}), 400
    )


def test_environment_variable_names_the_store(api: Api, client: nbtrack.TrackingClient) -> None:
    make_runs(client, 1)
    status = ok(api("status", params={"notebook": "any/where.ipynb"}))
    assert status == {
        "version": nbtrack.__version__,
        "store_exists": True,
        "tracking_uri": client.tracking_uri,
        "store_path": locate.store_location(client.tracking_uri),
        "store_problem": None,
    }


def test_a_relative_environment_variable_is_taken_from_the_notebook_directory(
    api: Api, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel runs in the notebook's directory, so that is where it finds "stores/x".
    project = jp_root_dir / "project"
    project.mkdir()
    kernel_side = nbtrack.TrackingClient(project / "stores" / "x")
    make_runs(kernel_side, 1)
    monkeypatch.setenv(locate.ENV_TRACKING_URI, "stores/x")
    status = ok(api("status", params={"notebook": "project/a.ipynb"}))
    assert status["tracking_uri"] == kernel_side.tracking_uri
    assert status["store_exists"] is True
    assert ok(api("status"))["store_exists"] is False  # from the root: no such store


def test_an_old_schema_store_is_read_by_nothing_and_changed_by_no_get(
    api: Api, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = jp_root_dir / "old"
    store.mkdir()
    shutil.copy(Path(__file__).parent / "fixtures" / "store_rev0001.db", store / "nbtrack.db")
    monkeypatch.setenv(locate.ENV_TRACKING_URI, str(store))
    before = tree_state(store)
    status = ok(api("status"))
    assert status["store_exists"] is True
    assert "store needs upgrading: run `nbtrack upgrade`" in status["store_problem"]
    for path in ("experiments", "runs", "runs/0123", "runs/0123/timeline"):
        message = error(api(*path.split("/")), 409)
        assert "store needs upgrading: run `nbtrack upgrade`" in message
    assert tree_state(store) == before  # not migrated, no lock file, no WAL switch
    result = CliRunner().invoke(main, ["upgrade"])
    assert result.exit_code == 0, result.output
    assert ok(api("status"))["store_problem"] is None
    assert len(ok(api("experiments"))["experiments"]) >= 1


KERNEL_LOGS = """
%load_ext nbtrack
%track start from-a-subdirectory --experiment agree
import nbtrack
nbtrack.log_metric("loss", 0.25)
%track end
print(nbtrack.get_tracking_uri())
"""


@pytest.mark.slow
def test_a_kernel_in_a_subdirectory_the_server_and_the_cli_share_one_store(
    api: Api, jp_serverapp: Any, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_client.manager import start_new_kernel

    monkeypatch.delenv(locate.ENV_TRACKING_URI)
    if any((d / ".nbtrack").exists() or (d / ".git").exists() for d in jp_root_dir.parents):
        pytest.skip("a .nbtrack or .git above the test's root would decide the store")
    root = jp_root_dir.resolve()
    (root / "notebooks").mkdir()
    # The extension told the server's kernels its root when it loaded.
    assert os.environ[locate.ENV_JUPYTER_ROOT] == str(root)
    # A kernel as the server starts one for notebooks/a.ipynb: in the notebook's
    # directory, with the environment the server's session manager gives it.
    env = jp_serverapp.session_manager.get_kernel_env(str(root / "notebooks" / "a.ipynb"))
    manager, client = start_new_kernel(
        kernel_name="python3", cwd=str(root / "notebooks"), env=env, startup_timeout=120
    )
    outputs: list[str] = []
    try:
        result = client.execute_interactive(
            KERNEL_LOGS,
            timeout=120,
            output_hook=lambda msg: outputs.append(msg["content"].get("text", "")),
        )
        assert result["content"]["status"] == "ok", result["content"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    store = root / ".nbtrack"
    assert locate.sqlite_uri(store / "nbtrack.db") in "".join(outputs)
    assert not (root / "notebooks" / ".nbtrack").exists()
    # The CLI typed at the root finds that store and names it.
    cli = subprocess.run(
        [sys.executable, "-c", "from nbtrack.cli import main; main()", "runs", "list"],
        cwd=root,
        env={k: v for k, v in os.environ.items() if not k.startswith("NBTRACK_")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert "from-a-subdirectory" in cli.stdout
    assert f"from the store at {store}" in cli.stdout
    # The server reads the same store for that notebook, and says where it is.
    status = ok(api("status", params={"notebook": "notebooks/a.ipynb"}))
    assert status["store_path"] == str(store)
    runs = ok(api("runs", params={"notebook": "notebooks/a.ipynb"}))["runs"]
    assert [r["run_name"] for r in runs] == ["from-a-subdirectory"]


@pytest.mark.parametrize("jp_server_config", [{"tracking_uri": "{tmp}/configured"}], indirect=True)
def test_configured_tracking_uri_overrides_everything(
    api: Api, tmp_path: Path, client: nbtrack.TrackingClient
) -> None:
    make_runs(client, 1, experiment="from-environment")
    configured = nbtrack.TrackingClient(tmp_path / "configured")
    make_runs(configured, 2, experiment="configured")
    for params in (None, {"notebook": "a/b.ipynb"}):
        assert ok(api("status", params=params))["tracking_uri"] == configured.tracking_uri
        runs = ok(api("runs", params=params))["runs"]
        assert {r["run_name"] for r in runs} == {"run-0", "run-1"}


# -- experiments and runs -----------------------------------------------------------


def test_experiments_and_run_summaries(api: Api, client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 3)
    experiments = ok(api("experiments"))["experiments"]
    assert [e["name"] for e in experiments] == ["Default", "ui"]
    assert set(experiments[1]) == {
        "experiment_id", "name", "lifecycle_stage", "creation_time", "tags",
    }  # fmt: skip
    assert experiments[1]["lifecycle_stage"] == "active"
    page = ok(api("runs", params={"experiment_id": experiments[1]["experiment_id"]}))
    assert page["next_page_token"] is None
    assert [r["run_id"] for r in page["runs"]] == ids[::-1]  # newest first
    summary = page["runs"][-1]
    assert summary == {
        "run_id": ids[0],
        "run_name": "run-0",
        "experiment_id": experiments[1]["experiment_id"],
        "status": "FINISHED",
        "start_time": 1_700_000_000_000,
        "end_time": 1_700_000_000_500,
        "notebook": None,
        "current_notebook": False,
        "params": {"lr": "0.1", "opt": "adam"},
        "metrics": {"loss": pytest.approx(1 / 20), "acc": 0.5},
        "tags": summary["tags"],
    }
    assert summary["tags"]["team"] == "t0"
    assert ok(api("runs", params={"experiment_id": "0"}))["runs"] == []


def test_filter_sort_and_paging(api: Api, client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 7)
    found = ok(api("runs", params={"filter": "metrics.acc > 0.525 and tags.team = 't0'"}))
    assert [r["run_name"] for r in found["runs"]] == ["run-6", "run-4"]
    by_loss = ok(api("runs", params=[("order_by", "metrics.loss ASC")]))["runs"]
    assert [r["run_id"] for r in by_loss] == ids
    two_keys = [("order_by", "tags.team DESC"), ("order_by", "attributes.start_time ASC")]
    names = [r["run_name"] for r in ok(api("runs", params=two_keys))["runs"]]
    assert names == ["run-1", "run-3", "run-5", "run-0", "run-2", "run-4", "run-6"]

    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params = {"max_results": "3", "order_by": "params.lr DESC"}
        if token:
            params["page_token"] = token
        page = ok(api("runs", params=params))
        seen += [r["run_id"] for r in page["runs"]]
        pages += 1
        token = page["next_page_token"]
        if token is None:
            break
    assert pages == 3
    assert seen == ids[::-1]

    assert "page_token" in error(api("runs", params={"page_token": "nonsense"}), 400)
    assert "max_results" in error(api("runs", params={"max_results": "0"}), 400)
    assert "max_results" in error(api("runs", params={"max_results": "x"}), 400)
    assert "view" in error(api("runs", params={"view": "gone"}), 400)
    assert "experiment id" in error(api("runs", params={"experiment_id": "ui"}), 400)


def test_bad_filter_is_400_pointing_at_the_token(api: Api, client: nbtrack.TrackingClient) -> None:
    make_runs(client, 1)
    message = error(api("runs", params={"filter": "metrics.acc > 0.5 andd params.lr = '1'"}), 400)
    assert "(at position 18)" in message
    assert message.endswith("metrics.acc > 0.5 andd params.lr = '1'\n" + " " * 20 + "^")
    message = error(api("runs", params={"filter": "run_name LIKE '%x%' and metrics.a >"}), 400)
    assert "missing value" in message  # a '%' in the filter reaches the client intact
    assert "position" in error(api("runs", params={"order_by": "metrics.acc DOWN"}), 400)


def test_current_notebook_runs_come_first(
    api: Api, client: nbtrack.TrackingClient, jp_root_dir: Path
) -> None:
    ids = make_runs(client, 5)
    notebook = jp_root_dir / "nb" / "a.ipynb"
    for run_id in (ids[0], ids[2]):
        client.set_tag(run_id, "nbtrack.notebook", str(notebook))
    client.set_tag(ids[4], "nbtrack.notebook", "/elsewhere/b.ipynb")
    client.flush()
    runs = ok(api("runs", params={"notebook": "nb/a.ipynb"}))["runs"]
    assert [r["run_id"] for r in runs] == [ids[2], ids[0], ids[4], ids[3], ids[1]]
    assert [r["current_notebook"] for r in runs] == [True, True, False, False, False]
    assert [r["notebook"] for r in runs] == ["nb/a.ipynb"] * 2 + ["/elsewhere/b.ipynb", None, None]
    # Paging runs over the whole ordered list, groups included.
    first = ok(api("runs", params={"notebook": "nb/a.ipynb", "max_results": "3"}))
    rest = ok(
        api(
            "runs",
            params={"notebook": "nb/a.ipynb", "max_results": "3",
                    "page_token": first["next_page_token"]},
        )
    )  # fmt: skip
    assert [r["run_id"] for r in first["runs"] + rest["runs"]] == [r["run_id"] for r in runs]
    # Sorted by a key, each group keeps that order.
    by_lr = ok(api("runs", params={"notebook": "nb/a.ipynb", "order_by": "params.lr ASC"}))
    assert [r["run_id"] for r in by_lr["runs"]] == [ids[0], ids[2], ids[1], ids[3], ids[4]]
    detail = ok(api("runs", ids[0], params={"notebook": "nb/a.ipynb"}))["run"]
    assert detail["current_notebook"] is True
    assert detail["notebook"] == "nb/a.ipynb"


# -- one run ------------------------------------------------------------------------


def test_run_detail_and_unknown_run(api: Api, client: nbtrack.TrackingClient) -> None:
    run_id = make_runs(client, 1, steps=4)[0]
    client.log_metric(run_id, "odd", math.nan, step=0)
    client.flush()
    run = ok(api("runs", run_id))["run"]
    assert run["run_id"] == run_id
    assert run["lifecycle_stage"] == "active"
    assert run["parent_run_id"] is None
    loss = run["metrics_detail"]["loss"]
    assert loss == {
        "value": 0.25, "step": 3, "timestamp": loss["timestamp"], "min": 0.25, "max": 1.0,
    }  # fmt: skip
    assert isinstance(loss["timestamp"], int)
    assert run["metrics"]["odd"] is None  # NaN has no JSON spelling
    assert run["metrics_detail"]["odd"]["value"] is None
    unknown = "0" * 32
    for path in ("", "history", "timeline", "artifacts", "snapshot", "environment"):
        reply = api("runs", unknown, *([path] if path else []), params={"key": "loss"})
        assert f"no run with id {unknown!r}" in error(reply, 404)


@pytest.mark.parametrize("server_opened_it", [True, False])
def test_run_of_a_dead_process_shows_killed(
    api: Api, client: nbtrack.TrackingClient, server_opened_it: bool
) -> None:
    client.search_runs()  # the store exists before the child opens it
    if not server_opened_it:
        close_all()  # the server reads it read-only, and opens it to write only to mark the run
    child = subprocess.Popen(
        [sys.executable, "-c", DYING_LOGGER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
    finally:
        child.kill()
        child.wait()
    run = ok(api("runs", run_id))["run"]
    assert run["status"] == "KILLED"
    assert run["metrics"] == {"x": 1.0}  # what it logged is kept
    assert run["end_time"] is not None


def test_history_is_downsampled_with_its_extremes(api: Api, client: nbtrack.TrackingClient) -> None:
    exp = client.create_experiment("long")
    run_id = client.create_run(exp).info.run_id
    values = [math.sin(i / 50) for i in range(10_000)]
    values[1234], values[8765], values[10] = 50.0, -50.0, math.nan
    client.log_batch(run_id, metrics=[("x", v, 1000 + i, i) for i, v in enumerate(values)])
    client.flush()
    reply = ok(api("runs", run_id, "history", params={"key": "x", "max_points": "100"}))
    assert reply["key"] == "x"
    assert reply["total_points"] == 10_000
    assert reply["downsampled"] is True
    points = reply["points"]
    assert len(points) <= 100
    steps = [p["step"] for p in points]
    assert steps == sorted(steps)
    assert {0, 1234, 8765, 9999} <= set(steps)
    assert {p["step"]: p["value"] for p in points}[1234] == 50.0
    assert points[0] == {"step": 0, "timestamp": 1000, "value": 0.0}

    full = ok(api("runs", run_id, "history", params={"key": "x", "max_points": "100000"}))
    assert full["downsampled"] is False
    assert len(full["points"]) == 10_000
    assert full["points"][10]["value"] is None  # NaN
    assert len(ok(api("runs", run_id, "history", params={"key": "x"}))["points"]) <= 2000
    none = ok(api("runs", run_id, "history", params={"key": "never"}))
    assert none == {"key": "never", "points": [], "downsampled": False, "total_points": 0}
    assert "key" in error(api("runs", run_id, "history"), 400)
    too_few = {"key": "x", "max_points": "1"}
    assert "max_points" in error(api("runs", run_id, "history", params=too_few), 400)


@pytest.mark.parametrize("jp_server_config", [{"history_recheck_interval": 0}], indirect=True)
def test_history_follows_appends_and_rewrites(api: Api, client: nbtrack.TrackingClient) -> None:
    run_id = client.create_run(client.create_experiment("live")).info.run_id

    def logged(*points: tuple[float, int, int]) -> list[tuple[int, float | None]]:
        client.log_batch(run_id, metrics=[("x", v, t, step) for v, t, step in points])
        client.flush()
        reply = ok(api("runs", run_id, "history", params={"key": "x", "max_points": "1000"}))
        assert reply["total_points"] == len(reply["points"])
        return [(p["step"], p["value"]) for p in reply["points"]]

    expected: dict[int, float | None] = {i: float(i) for i in range(100)}
    assert logged(*((float(i), 1000 + i, i) for i in range(100))) == sorted(expected.items())
    expected |= {i: float(i) for i in range(100, 150)}  # appended: read incrementally
    assert logged(*((float(i), 2000 + i, i) for i in range(100, 150))) == sorted(expected.items())
    expected[5] = 99.5  # rewritten in place, same timestamp: the value sum changes
    assert logged((99.5, 1005, 5)) == sorted(expected.items())
    expected |= {7: None, 150: 1.0}  # a rewrite to NaN and an append at once
    assert logged((math.nan, 3000, 7), (1.0, 3001, 150)) == sorted(expected.items())
    expected[20] = 20.0  # the same value again, later: the timestamp sum changes
    assert logged((20.0, 4000, 20)) == sorted(expected.items())


def test_history_cache_keeps_to_its_budget(client: nbtrack.TrackingClient) -> None:
    run_id = client.create_run(client.create_experiment("budget")).info.run_id
    sizes = {"a": 100, "b": 60, "c": 300}
    for key, n in sizes.items():
        client.log_batch(run_id, metrics=[(key, i * 0.25, 1000 + i, i) for i in range(n)])
    client.flush()
    cache = SeriesCache(budget=150, recheck_after=0)
    for _ in range(2):
        for key, n in sizes.items():
            series = cache.get(client.queries, run_id, key)
            assert series.values.tolist() == [i * 0.25 for i in range(n)]
            assert series.steps.tolist() == list(range(n))
            assert sum(len(s) for s in cache._entries.values()) <= 150
    assert len(cache.get(client.queries, run_id, "never")) == 0


def test_history_cache_trusts_appends_and_verifies_later(client: nbtrack.TrackingClient) -> None:
    run_id = client.create_run(client.create_experiment("trust")).info.run_id
    cache = SeriesCache(budget=10_000, recheck_after=3600)

    def log(*points: tuple[float, int, int]) -> list[float]:
        client.log_batch(run_id, metrics=[("x", v, t, step) for v, t, step in points])
        client.flush()
        return cache.get(client.queries, run_id, "x").values.tolist()

    assert log(*((float(i), 1000 + i, i) for i in range(10))) == [float(i) for i in range(10)]
    # Appended: read at once, trusted until the next verification.
    assert log((10.0, 2000, 10), (11.0, 2001, 11)) == [float(i) for i in range(12)]
    # Rewrites of a verified point and of a trusted one: not seen before verification ...
    assert log((-3.0, 3000, 3), (-11.0, 3001, 11))[3] == 3.0
    cache.recheck_after = 0  # ... and both seen by it.
    expected = [float(i) for i in range(12)]
    expected[3], expected[11] = -3.0, -11.0
    assert cache.get(client.queries, run_id, "x").values.tolist() == expected
    cache.recheck_after = 3600
    # A trusted append rewritten before the next verification is read again by it.
    assert log((12.0, 4000, 12))[-1] == 12.0
    assert log((-12.0, 4001, 12))[-1] == 12.0
    cache.recheck_after = 0
    assert cache.get(client.queries, run_id, "x").values.tolist() == [*expected, -12.0]


def test_timeline_snapshot_and_environment_of_a_notebook_run(
    notebook_run_id: str, api: Api
) -> None:
    run_id = notebook_run_id
    cells = ok(api("runs", run_id, "timeline"))["cells"]
    sources = [c["source"] for c in cells]
    assert sources == list(NOTEBOOK_CELLS)
    assert [c["seq"] for c in cells] == list(range(1, 7))
    assert cells[1]["params"] == ["lr"]
    assert cells[2]["metrics"] == ["loss"]
    assert cells[4]["tags"] == ["stage"]
    assert [c["error"] for c in cells] == [False, False, False, True, False, False]
    assert cells[3]["error_type"] == "ZeroDivisionError"
    assert all(c["finished"] >= c["started"] for c in cells[:5])
    assert set(cells[0]) == {
        "seq", "execution_count", "cell_id", "source", "started", "finished", "duration_ms",
        "outcome", "error", "error_type", "error_message", "metrics", "params", "tags",
        "artifacts",
    }  # fmt: skip

    snapshot = api("runs", run_id, "snapshot")
    notebook = nbformat.reads(json.dumps(ok(snapshot)), as_version=4)
    nbformat.validate(notebook)
    assert [c.source for c in notebook.cells] == sources
    environment = ok(api("runs", run_id, "environment"))
    stored = nbtrack.TrackingClient().read_artifact(run_id, "environment.json")
    assert environment == json.loads(stored)


def test_runs_without_snapshot_or_environment_are_404(
    api: Api, client: nbtrack.TrackingClient
) -> None:
    run_id = make_runs(client, 1)[0]
    assert "has no notebook snapshot" in error(api("runs", run_id, "snapshot"), 404)
    assert "has no captured environment" in error(api("runs", run_id, "environment"), 404)
    assert ok(api("runs", run_id, "timeline")) == {"cells": []}


def test_artifacts_list_and_download(api: Api, client: nbtrack.TrackingClient) -> None:
    run_id = make_runs(client, 1)[0]
    client.log_text(run_id, "hello", "notes/readme.txt")
    client.log_dict(run_id, {"a": 1}, "notes/deep/data.json")
    client.log_text(run_id, "<script>alert(1)</script>", "page.html")
    client.log_bytes(run_id, bytes(range(256)) * 5000, "model.bin")
    client.flush()
    root = ok(api("runs", run_id, "artifacts"))["files"]
    assert root == [
        {"path": "model.bin", "is_dir": False, "file_size": 1_280_000},
        {"path": "notes", "is_dir": True, "file_size": None},
        {"path": "page.html", "is_dir": False, "file_size": 25},
    ]
    notes = ok(api("runs", run_id, "artifacts", params={"path": "notes"}))["files"]
    assert [f["path"] for f in notes] == ["notes/deep", "notes/readme.txt"]

    text = api("runs", run_id, "artifacts", "raw", params={"path": "notes/readme.txt"})
    assert text.status == 200
    assert text.body == b"hello"
    assert text.headers["Content-Disposition"] == "attachment; filename*=UTF-8''readme.txt"
    assert text.headers["Content-Type"].startswith("text/plain")
    assert text.headers["X-Content-Type-Options"] == "nosniff"
    big = api("runs", run_id, "artifacts", "raw", params={"path": "model.bin"})
    assert big.body == bytes(range(256)) * 5000
    html = api("runs", run_id, "artifacts", "raw", params={"path": "page.html"})
    assert html.headers["Content-Type"] == "application/octet-stream"  # never runs as a page

    for bad in ("../../etc/passwd", "/etc/passwd", "notes/../../x"):
        for route in (("artifacts",), ("artifacts", "raw")):
            reply = api("runs", run_id, *route, params={"path": bad})
            assert any(w in error(reply, 400) for w in ("absolute", "escape")), bad
    assert "no such file" in error(
        api("runs", run_id, "artifacts", "raw", params={"path": "nope.txt"}), 404
    )
    assert "a directory" in error(
        api("runs", run_id, "artifacts", "raw", params={"path": "notes"}), 404
    )
    assert "path" in error(api("runs", run_id, "artifacts", "raw"), 400)


# -- changes ----------------------------------------------------------------------------


def test_tag_delete_and_restore(api: Api, client: nbtrack.TrackingClient) -> None:
    run_id = make_runs(client, 2)[0]
    assert ok(api("runs", run_id, "tags", method="POST", body={"key": "k", "value": "v<1>"})) == {
        "ok": True
    }
    assert client.get_run(run_id).data.tags["k"] == "v<1>"
    assert ok(api("runs", run_id, "delete", method="POST", body={})) == {"ok": True}
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    active = [r["run_id"] for r in ok(api("runs"))["runs"]]
    assert run_id not in active
    deleted = ok(api("runs", params={"view": "deleted"}))["runs"]
    assert [r["run_id"] for r in deleted] == [run_id]
    assert ok(api("runs", run_id))["run"]["lifecycle_stage"] == "deleted"
    assert ok(api("runs", run_id, "restore", method="POST", body={})) == {"ok": True}
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert "no run with id" in error(api("runs", "f" * 32, "delete", method="POST", body={}), 404)


def test_posts_take_json_only(api: Api, client: nbtrack.TrackingClient) -> None:
    run_id = make_runs(client, 1)[0]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for route in ("tags", "delete", "restore"):
        assert "application/json" in error(
            api("runs", run_id, route, method="POST", body="key=k&value=v", headers=form), 415
        )
        assert "application/json" in error(api("runs", run_id, route, method="POST"), 415)
    as_json = {"Content-Type": "application/json; charset=utf-8"}
    tag = ("runs", run_id, "tags")
    assert "not valid JSON" in error(api(*tag, method="POST", body="{", headers=as_json), 400)
    assert "JSON object" in error(api(*tag, method="POST", body="[1]", headers=as_json), 400)
    assert "must be strings" in error(api(*tag, method="POST", body={"key": "k", "value": 1}), 400)
    assert "tag name" in error(api(*tag, method="POST", body={"key": "", "value": "v"}), 400)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert "k" not in client.get_run(run_id).data.tags


# -- authentication ---------------------------------------------------------------------


def example_paths(run_id: str) -> dict[str, tuple[str, str, dict[str, str]]]:
    """A request for every route of the extension: pattern -> (method, path, params)."""
    examples = {
        "status": ("GET", "status", {}),
        "experiments": ("GET", "experiments", {}),
        "runs": ("GET", "runs", {}),
        _handlers._RUN: ("GET", f"runs/{run_id}", {}),
        _handlers._RUN + "/history": ("GET", f"runs/{run_id}/history", {"key": "loss"}),
        _handlers._RUN + "/timeline": ("GET", f"runs/{run_id}/timeline", {}),
        _handlers._RUN + "/artifacts": ("GET", f"runs/{run_id}/artifacts", {}),
        _handlers._RUN + "/artifacts/raw": (
            "GET",
            f"runs/{run_id}/artifacts/raw",
            {"path": "environment.json"},
        ),
        _handlers._RUN + "/snapshot": ("GET", f"runs/{run_id}/snapshot", {}),
        _handlers._RUN + "/environment": ("GET", f"runs/{run_id}/environment", {}),
        _handlers._RUN + "/tags": ("POST", f"runs/{run_id}/tags", {}),
        _handlers._RUN + "/delete": ("POST", f"runs/{run_id}/delete", {}),
        _handlers._RUN + "/restore": ("POST", f"runs/{run_id}/restore", {}),
        "(?P<rest>.*)": ("GET", "nothing/here", {}),
        "histories": ("GET", "histories", {"run_id": run_id, "key": "loss"}),
        "compare": ("GET", "compare", {"run_id": run_id}),
    }
    routes = [*_handlers.ROUTES, *VIEW_ROUTES]
    assert set(examples) == {pattern for pattern, _ in routes}, "a route is untested"
    return examples


def test_requests_without_the_token_are_refused(notebook_run_id: str, api: Api) -> None:
    run_id = notebook_run_id
    for method, path, params in example_paths(run_id).values():
        body = {"key": "k", "value": "v"} if method == "POST" else None
        for auth in ("", "token wrong"):
            reply = api(*path.split("/"), params=params, method=method, body=body,
                        headers={"Authorization": auth})  # fmt: skip
            assert reply.status in (302, 403), (path, reply.status)
            assert run_id.encode() not in reply.body
    assert ok(api("runs", run_id))["run"]["lifecycle_stage"] == "active"
    assert "k" not in ok(api("runs", run_id))["run"]["tags"]
    assert "no nbtrack endpoint 'nothing/here'" in error(api("nothing", "here"), 404)


@pytest.mark.slow
def test_real_server_refuses_every_route_without_the_token(
    tmp_path: Path, ip: InteractiveShell
) -> None:
    from jupyter_server.serverapp import ServerApp

    from _jupyter_browser import start_lab

    run_id = notebook_run(ip)
    root = tmp_path / "lab-root"
    root.mkdir()
    env = {"JUPYTER_CONFIG_DIR": str(enabled_config_dir(tmp_path))}
    # start_lab passes --ServerApp.allow_unauthenticated_access=False where the trait exists.
    assert "allow_unauthenticated_access" in ServerApp.class_trait_names()
    with start_lab(root, env=env) as lab:
        base = f"{lab.url}/nbtrack/api/"
        examples = example_paths(run_id)
        for method, path, params in examples.values():
            url = base + path + ("?" + urlencode(params) if params else "")
            body = {"key": "k", "value": "v"} if method == "POST" else None
            refused = fetch(url, method=method, body=body)
            assert refused.status in (302, 403), (path, refused.status, refused.body[:200])
            assert run_id.encode() not in refused.body
        # With the token every route answers (POSTs last: delete, then restore).
        for method, path, params in examples.values():
            url = base + path + ("?" + urlencode(params) if params else "")
            body = {"key": "k", "value": "v"} if method == "POST" else None
            reply = fetch(url, lab.token, method=method, body=body)
            expected = 404 if path == "nothing/here" else 200
            assert reply.status == expected, (path, reply.status, reply.body[:300])
        runs = fetch(base + "runs", lab.token).json()["runs"]
        assert [r["run_id"] for r in runs] == [run_id]
        assert runs[0]["tags"]["k"] == "v"
        # As JupyterLab does it: a login cookie, and POSTs need the _xsrf cookie echoed.
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        browser.open(f"{lab.url}/lab?token={lab.token}", timeout=60).read()
        xsrf = next(c.value for c in jar if c.name == "_xsrf")
        tag = base + f"runs/{run_id}/tags"
        for headers, expected in (({}, 403), ({"X-XSRFToken": xsrf}, 200)):
            request = urllib.request.Request(  # noqa: S310 - the local server
                tag,
                data=json.dumps({"key": "by-cookie", "value": "yes"}).encode(),
                headers={"Content-Type": "application/json", **headers},
                method="POST",
            )
            try:
                status = browser.open(request, timeout=60).status
            except urllib.error.HTTPError as exc:
                status = exc.code
            assert status == expected, headers
        assert fetch(base + f"runs/{run_id}", lab.token).json()["run"]["tags"]["by-cookie"] == "yes"
