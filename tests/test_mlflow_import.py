"""``nbtrack import-mlflow``: a real MLflow store, built by MLflow here, copied field by field.

One source store per module and kind (SQLite, ``./mlruns``, PostgreSQL): MLflow takes
seconds to create one. Each test imports it into its own nbtrack store and
compares what MLflow's client reads with what nbtrack's client reads.
"""

from __future__ import annotations

import contextlib
import math
import pickle
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack.cli import main
from nbtrack.mlflow_io import import_mlflow

mlflow = pytest.importorskip("mlflow", reason="MLflow comes with the test extra")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402

MARKER_NAME = "unpickled.marker"


class _Boom:
    """Unpickling this creates a marker file: proof that an import loaded a model."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path(self.marker).touch, ())


@dataclass
class Source:
    uri: str
    root: Path
    run_ids: list[str]
    marker: Path


def _build(root: Path, uri: str) -> Source:
    """Two experiments, three runs (parent, failed child, deleted), artifacts, a registry."""
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    a = client.create_experiment("vision", tags={"team": "cv", "note": "\u03b1 \u00fcn\u00efcode"})
    b = client.create_experiment("trash-me")
    parent = client.create_run(
        a, start_time=1_700_000_000_000, run_name="parent", tags={"kind": "sweep"}
    )
    pid = parent.info.run_id
    values = [0.5, float("nan"), float("inf"), float("-inf"), -0.0, 1e-300, 3.141592653589793]
    points = [Metric("loss", v, 1_700_000_000_100 + i, i * 10) for i, v in enumerate(values)]
    points += [Metric("acc", i / 1000, 1_700_000_001_000 + i, i) for i in range(2500)]
    for start in range(0, len(points), 1000):
        client.log_batch(pid, metrics=points[start : start + 1000])
    client.log_batch(
        pid,
        params=[Param("lr", "0.001"), Param("layers", "[64, 64]")],
        tags=[RunTag("mlflow.note.content", "a note"), RunTag("stage", "dev")],
    )
    files = root / "files"
    (files / "plots").mkdir(parents=True)
    (files / "plots" / "curve.bin").write_bytes(bytes(range(256)) * 40)
    (files / "README.md").write_text("hello ✓\n", encoding="utf-8")
    client.log_artifacts(pid, str(files))
    client.set_terminated(pid, "FINISHED", end_time=1_700_000_009_000)

    child = client.create_run(
        a, start_time=1_700_000_000_500, run_name="child", tags={"mlflow.parentRunId": pid}
    )
    client.log_metric(child.info.run_id, "loss", 2.0, timestamp=1_700_000_000_600, step=0)
    client.set_terminated(child.info.run_id, "FAILED", end_time=1_700_000_000_900)

    gone = client.create_run(b, start_time=1_700_000_002_000, run_name="gone")
    client.log_param(gone.info.run_id, "x", "1")
    client.set_terminated(gone.info.run_id, "KILLED", end_time=1_700_000_002_500)
    client.delete_run(gone.info.run_id)
    client.delete_experiment(b)

    # A registered model whose files MLflow holds: a pickle that, if loaded, would
    # create a marker file. The import must copy it as bytes.
    marker = root / MARKER_NAME
    model_dir = root / "model"
    model_dir.mkdir()
    (model_dir / "model.pkl").write_bytes(pickle.dumps(_Boom(str(marker))))
    (model_dir / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: evil\n")
    client.create_registered_model("detector", tags={"owner": "cv"}, description="finds things")
    for version in (1, 2):
        logged = client.create_logged_model(experiment_id=a, source_run_id=pid, name="m")
        client.log_model_artifacts(logged.model_id, str(model_dir))
        client.finalize_logged_model(logged.model_id, "READY")
        client.create_model_version(
            "detector",
            source=f"models:/{logged.model_id}",
            run_id=pid,
            tags={"v": str(version)},
            description=f"version {version}",
            model_id=logged.model_id,
        )
    client.transition_model_version_stage("detector", "1", "Production")
    client.set_registered_model_alias("detector", "champion", "2")
    return Source(uri, root, [pid, child.info.run_id, gone.info.run_id], marker)


@pytest.fixture(
    scope="module",
    params=["sqlite", "mlruns", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def source(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Source]:
    """The store built by MLflow: a SQLite file, a ./mlruns directory, or a PostgreSQL database.

    The PostgreSQL one is a new database of the test server (MLflow's tables in
    its public schema, as ``mlflow server --backend-store-uri postgresql://...``
    makes them; psycopg2 is MLflow's driver), dropped afterwards.
    """
    root = tmp_path_factory.mktemp(f"mlflow-{request.param}")
    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            from _postgres import fresh_database

            uri = stack.enter_context(fresh_database())
        elif request.param == "sqlite":
            uri = f"sqlite:///{root / 'mlflow.db'}"
        else:
            uri = str(root / "mlruns")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
            mp.chdir(root)  # MLflow puts a SQL store's artifacts in ./mlruns
            # MLflow resolves a version's models:/<model_id> source in its current store.
            mp.setenv("MLFLOW_TRACKING_URI", uri)
            built = _build(root, uri)
        yield built


@pytest.fixture(autouse=True)
def _file_store_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests read the ./mlruns source with MLflow's client too."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def _mlflow(source: Source) -> MlflowClient:
    return MlflowClient(tracking_uri=source.uri, registry_uri=source.uri)


def _same_value(ours: float, theirs: float) -> bool:
    """Equal, NaN equal to NaN (the sign of -0.0 is not kept: SQLite stores it as 0.0).

    MLflow's SQL store writes +-inf as +-max float; the import restores the infinity.
    """
    if abs(theirs) == sys.float_info.max:
        return ours == math.copysign(math.inf, theirs)
    return (math.isnan(ours) and math.isnan(theirs)) or ours == theirs


def test_every_field_is_copied(source: Source, client: nbtrack.TrackingClient) -> None:
    report = import_mlflow(source.uri)
    assert report.runs_imported == 3
    assert report.runs_unchanged == 0
    theirs = _mlflow(source)
    for run_id in source.run_ids:
        mine, orig = client.get_run(run_id), theirs.get_run(run_id)
        assert mine.info.run_name == orig.info.run_name
        assert mine.info.status == orig.info.status
        assert (mine.info.start_time, mine.info.end_time) == (
            orig.info.start_time,
            orig.info.end_time,
        )
        assert mine.info.lifecycle_stage == orig.info.lifecycle_stage
        assert mine.info.user_id == orig.info.user_id
        assert mine.data.params == orig.data.params
        system = {"mlflow.runName", "mlflow.user", "mlflow.parentRunId"}
        assert {k: v for k, v in mine.data.tags.items() if k not in system} == {
            k: v for k, v in orig.data.tags.items() if k not in system
        }
        for key in orig.data.metrics:
            ours = client.get_metric_history(run_id, key)
            expected = sorted(theirs.get_metric_history(run_id, key), key=lambda m: m.step)
            assert [(m.step, m.timestamp) for m in ours] == [
                (m.step, m.timestamp) for m in expected
            ]
            assert all(_same_value(m.value, e.value) for m, e in zip(ours, expected, strict=True))
        assert set(client.get_metric_keys(run_id)) == set(orig.data.metrics)
    parent, child, gone = source.run_ids
    assert client.get_run(child).info.parent_run_id == parent
    loss = [m.value for m in client.get_metric_history(parent, "loss")]
    assert math.isnan(loss[1])
    assert loss[3] < -1e300
    assert client.get_run(gone).info.lifecycle_stage == "deleted"
    vision = client.get_experiment_by_name("vision")
    assert vision is not None
    assert vision.tags == theirs.get_experiment_by_name("vision").tags
    trashed = client.get_experiment_by_name("trash-me")
    assert trashed is not None
    assert trashed.lifecycle_stage == "deleted"

    local = Path(theirs.download_artifacts(parent, "", str(source.root / "dl-check")))
    for file in sorted(p for p in local.rglob("*") if p.is_file()):
        rel = file.relative_to(local).as_posix()
        assert client.read_artifact(parent, rel) == file.read_bytes()
    shutil.rmtree(local)
    # MLflow 3 keeps the run's two logged models apart; they arrive under their names.
    logged = theirs.search_logged_models([theirs.get_run(parent).info.experiment_id])
    paths = [p for p, _, _ in client._store.artifact_rows(parent)]
    models = {p.split("/")[0] for p in paths} - {"plots", "README.md"}
    assert "m" in models
    assert len(models) == 2
    assert models - {"m"} <= {f"m-{m.model_id}" for m in logged}
    pickled = (source.root / "model" / "model.pkl").read_bytes()
    for prefix in models:
        assert client.read_artifact(parent, f"{prefix}/model.pkl") == pickled
    # ...and keep their ids: get_logged_model(MLflow's id) names those files.
    for theirs_model in logged:
        ours = client.get_logged_model(theirs_model.model_id)
        assert (ours.name, ours.source_run_id, ours.status) == ("m", parent, "READY")
        assert ours.artifact_location.split("/", 2)[2] in models
        assert ours.creation_timestamp == theirs_model.creation_timestamp
    assert not source.marker.exists()


def test_registry_rows_are_copied_and_models_never_loaded(
    source: Source, client: nbtrack.TrackingClient
) -> None:
    import_mlflow(source.uri)
    assert not source.marker.exists()
    theirs = _mlflow(source)
    model = client.get_registered_model("detector")
    orig = theirs.get_registered_model("detector")
    assert model.tags == orig.tags
    assert model.description == orig.description
    assert model.aliases == {"champion": "2"}
    assert model.creation_timestamp == orig.creation_timestamp
    for number in ("1", "2"):
        mine, mv = (
            client.get_model_version("detector", number),
            theirs.get_model_version("detector", number),
        )
        assert mine.current_stage == mv.current_stage
        assert mine.tags == mv.tags
        assert mine.description == mv.description
        assert mine.run_id == mv.run_id
        assert mine.source == mv.source
        assert mine.creation_timestamp == mv.creation_timestamp
        assert set(mine.files) == {"MLmodel", "model.pkl"}
        pickled = client._store.blobs.read_bytes(mine.files["model.pkl"])
        assert pickled == (source.root / "model" / "model.pkl").read_bytes()
    assert not source.marker.exists()


def test_second_import_copies_nothing(source: Source, client: nbtrack.TrackingClient) -> None:
    import_mlflow(source.uri)
    events = len(client.get_registry_history())
    points = len(client.get_metric_history(source.run_ids[0], "acc"))
    again = import_mlflow(source.uri)
    assert again.runs_imported == 0
    assert again.runs_unchanged == 3
    assert again.experiments_created == 0
    assert again.models_created == 0
    assert again.versions_imported == 0
    assert again.versions_unchanged == 2
    assert len(client.get_registry_history()) == events
    assert len(client.get_metric_history(source.run_ids[0], "acc")) == points
    assert len(client.search_runs(run_view_type=3)) == 3
    assert import_mlflow(source.uri, dry_run=True).runs_imported == 0


def test_dry_run_writes_nothing(source: Source, tmp_path: Path) -> None:
    target = tmp_path / "fresh" / ".nbtrack"
    result = CliRunner().invoke(
        main, ["--tracking-uri", str(target), "import-mlflow", source.uri, "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "would copy" in result.output
    assert "3 run(s)" in result.output
    assert not target.exists()


def test_cli_imports_the_experiments_named(source: Source, client: nbtrack.TrackingClient) -> None:
    result = CliRunner().invoke(
        main, ["--tracking-uri", client.tracking_uri, "import-mlflow", source.uri, "-e", "vision"]
    )
    assert result.exit_code == 0, result.output
    assert "2 run(s)" in result.output
    assert client.get_experiment_by_name("trash-me") is None
    missing = CliRunner().invoke(
        main, ["--tracking-uri", client.tracking_uri, "import-mlflow", source.uri, "-e", "nope"]
    )
    assert missing.exit_code != 0
    assert "no experiment 'nope'" in missing.output


def test_missing_source_is_an_error_not_a_new_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["import-mlflow", str(tmp_path / "nothing")])
    assert result.exit_code != 0
    assert "no MLflow store" in result.output
    assert not (tmp_path / "nothing").exists()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_database_without_an_mlflow_store_is_refused_and_left_alone(
    kind: str, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    with contextlib.ExitStack() as stack:
        if kind == "postgresql":
            from _postgres import fresh_database

            uri = stack.enter_context(fresh_database())
        else:
            uri = f"sqlite:///{tmp_path / 'other.db'}"
        engine = sa.create_engine(uri)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE unrelated (x INTEGER)"))
        result = CliRunner().invoke(main, ["import-mlflow", uri])
        assert result.exit_code != 0
        assert "no MLflow store in" in result.output
        assert "no MLflow tables" in result.output
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == ["unrelated"]  # MLflow made none
        engine.dispose()


def test_a_postgresql_source_without_mlflows_driver_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sqlalchemy as sa

    driver = sa.create_engine("postgresql://u@127.0.0.1:1/x").dialect.driver  # SQLAlchemy's pick
    package = {"psycopg": "'psycopg[binary]'", "psycopg2": "psycopg2-binary"}[driver]
    monkeypatch.setitem(sys.modules, driver, None)  # as if it were not installed
    result = CliRunner().invoke(main, ["import-mlflow", "postgresql://u@127.0.0.1:1/mlflow"])
    assert result.exit_code != 0
    assert f"pip install {package}" in result.output


def test_the_default_store_is_found_without_a_tracking_uri(
    source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `nbtrack import-mlflow SOURCE` typed in a project: the store is the project's
    # ./.nbtrack, not the MLflow source (MLflow's URI is set while the import runs).
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.delenv("NBTRACK_TRACKING_URI")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = CliRunner().invoke(main, ["import-mlflow", source.uri, "-e", "vision"])
    assert result.exit_code == 0, result.output
    imported = nbtrack.TrackingClient(project / ".nbtrack", readonly=True)
    assert imported.get_experiment_by_name("vision") is not None
    listed = CliRunner().invoke(main, ["runs", "list"])
    assert f"from the store at {project / '.nbtrack'}" in listed.output, listed.output
