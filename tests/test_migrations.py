"""Schema versions: old stores upgrade on open without losing data; new == migrated schema.

``fixtures/store_rev0001.db`` was written by schema revision 0001 (see
``fixtures/make_rev0001.py``, whose constants say what it holds).
"""

from __future__ import annotations

import importlib.util
import math
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import nbtrack
from _tag_helpers import user_tags
from nbtrack.entities import ArtifactInfo
from nbtrack.store import _dialect, close_all, migrate, schema
from nbtrack.store.migrations import HEAD_REVISION

FIXTURES = Path(__file__).parent / "fixtures"
WORKER = Path(__file__).parent / "helpers" / "worker.py"


def _load_fixture_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_rev0001", FIXTURES / "make_rev0001.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rev1 = _load_fixture_module()


def same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return (math.isnan(a) and math.isnan(b)) or a == b


def query(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    """A private copy of the revision-0001 fixture."""
    path = tmp_path / "old" / "legacy.db"
    path.parent.mkdir()
    shutil.copyfile(FIXTURES / "store_rev0001.db", path)
    return path


def test_fixture_is_a_revision_0001_store(old_store: Path) -> None:
    assert query(old_store, "SELECT version_num FROM alembic_version") == [("0001",)]
    columns = [row[1] for row in query(old_store, "PRAGMA table_info(latest_metrics)")]
    assert columns == ["run_pk", "key_id", "step", "timestamp", "value"]
    values = [v for series in rev1.METRICS.values() for h in series.values() for _, _, v in h]
    nans = sum(math.isnan(v) for v in values)
    assert 40 <= len(values) <= 60
    assert nans == 3
    assert query(old_store, "SELECT count(*) FROM metrics") == [(len(values),)]
    assert query(old_store, "SELECT count(*) FROM metrics WHERE value IS NULL") == [(nans,)]
    assert (FIXTURES / "store_rev0001.db").stat().st_size < 64 * 1024


def test_opening_a_revision_0001_store_upgrades_it_and_keeps_everything(
    old_store: Path,
) -> None:
    client = nbtrack.TrackingClient(old_store)  # a path ending in .db is the SQLite file
    runs = {r.info.run_id: r for r in client.search_runs(["1"])}
    assert query(old_store, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]
    assert query(old_store, "PRAGMA integrity_check") == [("ok",)]

    experiment = client.get_experiment("1")
    assert (experiment.name, experiment.tags) == ("legacy", rev1.EXPERIMENT_TAGS[1])
    assert client.get_experiment("0").name == "Default"
    assert sorted(runs) == sorted(r[1] for r in rev1.RUNS)

    for run_pk, run_id, exp_id, name, status, start, end, parent_pk, *_ in rev1.RUNS:
        run = runs[run_id]
        assert run.info.experiment_id == str(exp_id)
        assert run.info.run_name == name
        assert run.info.start_time == start
        assert run.info.user_id == "alice"
        assert run.data.params == rev1.PARAMS[run_pk]
        assert user_tags(run.data.tags) == rev1.TAGS[run_pk]
        parent = None if parent_pk is None else rev1.RUNS[parent_pk - 1][1]
        assert run.info.parent_run_id == parent
        if status == "RUNNING":
            # Its process (another host, heartbeat long stale) is gone: KILLED on open, ended
            # at its last sign of life: the later of heartbeat and last logged point.
            last_logged = max(ts for h in rev1.METRICS[run_pk].values() for _, ts, _ in h)
            assert run.info.status == "KILLED"
            assert run.info.end_time == max(rev1.RUNS[run_pk - 1][10], last_logged)
        else:
            assert (run.info.status, run.info.end_time) == (status, end)

        series = rev1.METRICS[run_pk]
        assert sorted(client.get_metric_keys(run_id)) == sorted(series)
        assert set(run.data.metrics) == set(series)
        for key, points in series.items():
            expected = sorted(points)
            history = client.get_metric_history(run_id, key)
            assert [(m.step, m.timestamp) for m in history] == [(s, t) for s, t, _ in expected]
            for metric, (_, _, value) in zip(history, expected, strict=True):
                assert same(metric.value, value), (key, metric, value)
            assert same(run.data.metrics[key], expected[-1][2])

            # The columns added by 0002 were backfilled from history, NaN ignored.
            finite = [v for _, _, v in points if not math.isnan(v)]
            (low, high), *_ = query(
                old_store,
                "SELECT min_value, max_value FROM latest_metrics WHERE run_pk = ? AND key_id = ?",
                run_pk,
                rev1.METRIC_KEYS[key],
            )
            assert same(low, min(finite) if finite else None), (run_id, key)
            assert same(high, max(finite) if finite else None), (run_id, key)

    baseline = rev1.RUNS[0][1]
    path, sha, size = rev1.ARTIFACTS[0][1:4]
    assert client.list_artifacts(baseline) == [ArtifactInfo("model", True, None)]
    assert client.list_artifacts(baseline, "model") == [ArtifactInfo(path, False, size, sha)]

    # The upgraded store takes new writes, and extremes continue from the backfill.
    client.log_metric(baseline, "loss", -5.0, step=20)
    client.log_metric(baseline, "acc", 0.75)  # next step: 10
    run = client.get_run(baseline)
    assert run.data.metrics == {"loss": -5.0, "acc": 0.75}
    assert client.get_metric_history(baseline, "acc")[-1].step == 10
    assert query(
        old_store,
        "SELECT min_value, max_value FROM latest_metrics WHERE run_pk = 1 ORDER BY key_id",
    ) == [(-5.0, 1.0), (0.5, 0.95)]

    # Opened again (already at head): nothing changes.
    close_all()
    again = nbtrack.TrackingClient(old_store)
    assert again.get_run(baseline).data == run.data
    assert again.get_run(rev1.RUNS[1][1]).info.status == "KILLED"


@pytest.mark.slow
def test_processes_upgrading_an_old_store_at_once(old_store: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(4)]
    procs = []
    for i, flag in enumerate(ready):
        err = (tmp_path / f"opener-{i}.err").open("wb")
        procs.append(
            (
                subprocess.Popen(
                    [
                        sys.executable,
                        str(WORKER),
                        "open-new",
                        str(old_store),
                        f"--worker={i}",
                        f"--ready={flag}",
                        f"--go={go}",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                ),
                err,
            )
        )
    deadline = time.monotonic() + 60
    while not all(flag.exists() for flag in ready):
        assert time.monotonic() < deadline
        assert all(p.poll() is None for p, _ in procs)
        time.sleep(0.005)
    go.touch()
    for proc, err in procs:
        rc = proc.wait(60)
        err.close()
        text = Path(err.name).read_text()
        assert rc == 0, text
        assert "Traceback" not in text
        assert "locked" not in text
    assert query(old_store, "SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]
    assert query(old_store, "PRAGMA integrity_check") == [("ok",)]
    client = nbtrack.TrackingClient(old_store)
    assert len(client.search_runs(["0"])) == 4
    assert len(client.get_metric_history(rev1.RUNS[0][1], "loss")) == 20


def _schema_dump(engine: sa.Engine) -> dict[str, Any]:
    """Everything SQLite knows about each table's shape, in comparable form."""
    dump: dict[str, Any] = {}
    with engine.connect() as conn:
        tables = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).all()
        for name, sql in tables:
            indexes = {}
            for _, index, unique, origin, partial in conn.exec_driver_sql(
                f"PRAGMA index_list('{name}')"
            ):
                columns = conn.exec_driver_sql(f"PRAGMA index_xinfo('{index}')").all()
                indexes[index] = (unique, origin, partial, columns)
            dump[name] = {
                "columns": conn.exec_driver_sql(f"PRAGMA table_info('{name}')").all(),
                "foreign_keys": conn.exec_driver_sql(f"PRAGMA foreign_key_list('{name}')").all(),
                "indexes": indexes,
                "without_rowid": "WITHOUT ROWID" in sql.upper(),
            }
    return dump


def _diffs(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, schema.metadata))


def test_new_store_schema_equals_the_migrated_schema(tmp_path: Path) -> None:
    # A brand-new store: tables from schema.metadata, stamped with the head.
    created = _dialect.create_engine(f"sqlite:///{tmp_path}/created.db")
    migrate.ensure_schema(created)
    # Every migration from an empty database.
    migrated = _dialect.create_engine(f"sqlite:///{tmp_path}/migrated.db")
    with _dialect.write_transaction(migrated) as conn:
        migrate.upgrade(conn, "head")
    # An old store upgraded on open.
    upgraded = _dialect.create_engine(f"sqlite:///{tmp_path}/upgraded.db")
    with _dialect.write_transaction(upgraded) as conn:
        migrate.upgrade(conn, "0001")
    migrate.ensure_schema(upgraded)
    try:
        for engine in (created, migrated, upgraded):
            with engine.connect() as conn:
                assert migrate.current_revision(conn) == HEAD_REVISION
            assert _diffs(engine) == []
        reference = _schema_dump(created)
        assert set(reference) == {*schema.metadata.tables, "alembic_version"}
        assert _schema_dump(migrated) == reference
        assert _schema_dump(upgraded) == reference
    finally:
        for engine in (created, migrated, upgraded):
            engine.dispose()


def test_compare_metadata_sees_a_missing_column(tmp_path: Path) -> None:
    """The comparison above can fail: a store one revision behind differs from the metadata."""
    engine = _dialect.create_engine(f"sqlite:///{tmp_path}/old.db")
    with _dialect.write_transaction(engine) as conn:
        migrate.upgrade(conn, "0001")
    try:
        diffs = _diffs(engine)
    finally:
        engine.dispose()
    added = {(d[2], d[3].name) for d in diffs if isinstance(d, tuple) and d[0] == "add_column"}
    assert {("latest_metrics", "min_value"), ("latest_metrics", "max_value")} <= added


def test_head_revision_constant_matches_the_scripts() -> None:
    assert migrate.script_head() == HEAD_REVISION
