"""The store's tables (SQLAlchemy Core), at the newest schema version.

Migrations in ``migrations/versions`` build the same shape step by step; a test
compares the two. Design notes:

* Runs have an integer primary key (``run_pk``) used by every child table; the
  32-hex ``run_id`` that users see lives only in ``runs``.
* ``metrics`` is the big table. Metric names are interned in ``metric_keys``; a
  point is ``(run_pk, key_id, step) -> (timestamp, value)`` in a WITHOUT ROWID
  table, so the primary key is the storage order and history reads are one
  range scan. A NaN value is stored as NULL (SQLite cannot store NaN).
* ``latest_metrics`` holds one row per (run, key): the value at the highest
  step plus the min and max seen, so run tables never scan history.
* Notebook runs keep a cell timeline (``cells``, sources stored once in
  ``cell_sources``); params, tags and artifacts carry the ``cell_seq`` that
  logged them, and ``metric_cells`` holds each cell's step range per metric.
* Times are integer milliseconds since the epoch, as in MLflow.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("experiment_id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(256), nullable=False, unique=True),
    sa.Column("artifact_location", sa.Text, nullable=False),
    sa.Column("lifecycle_stage", sa.String(32), nullable=False),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("last_update_time", sa.BigInteger, nullable=False),
)

experiment_tags = sa.Table(
    "experiment_tags",
    metadata,
    sa.Column(
        "experiment_id",
        sa.Integer,
        sa.ForeignKey("experiments.experiment_id"),
        primary_key=True,
    ),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_pk", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.String(32), nullable=False, unique=True),
    sa.Column(
        "experiment_id",
        sa.Integer,
        sa.ForeignKey("experiments.experiment_id"),
        nullable=False,
    ),
    sa.Column("name", sa.String(250), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=False),
    sa.Column("end_time", sa.BigInteger, nullable=True),
    sa.Column("lifecycle_stage", sa.String(32), nullable=False),
    sa.Column("parent_run_pk", sa.Integer, sa.ForeignKey("runs.run_pk"), nullable=True),
    sa.Column("user_id", sa.String(256), nullable=False),
    sa.Column("host", sa.String(256), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("heartbeat", sa.BigInteger, nullable=False),
    sa.Column("deleted_time", sa.BigInteger, nullable=True),
    sa.Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    sa.Index("ix_runs_status", "status"),
)

params = sa.Table(
    "params",
    metadata,
    sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.run_pk"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("cell_seq", sa.Integer, nullable=True),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.run_pk"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("cell_seq", sa.Integer, nullable=True),
)

metric_keys = sa.Table(
    "metric_keys",
    metadata,
    sa.Column("key_id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(250), nullable=False, unique=True),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("run_pk", sa.Integer, primary_key=True),
    sa.Column("key_id", sa.Integer, primary_key=True),
    sa.Column("step", sa.BigInteger, primary_key=True),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sqlite_with_rowid=False,
)

latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    sa.Column("run_pk", sa.Integer, primary_key=True),
    sa.Column("key_id", sa.Integer, primary_key=True),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("min_value", sa.Float, nullable=True),
    sa.Column("max_value", sa.Float, nullable=True),
    sqlite_with_rowid=False,
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.run_pk"), primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("cell_seq", sa.Integer, nullable=True),
    sa.Index("ix_artifacts_sha256", "sha256"),
)

cell_sources = sa.Table(
    "cell_sources",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
)

cells = sa.Table(
    "cells",
    metadata,
    sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.run_pk"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("cell_id", sa.String(64), nullable=True),
    sa.Column("execution_count", sa.Integer, nullable=True),
    sa.Column("source_sha256", sa.String(64), nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("error_type", sa.String(250), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
)

metric_cells = sa.Table(
    "metric_cells",
    metadata,
    sa.Column("run_pk", sa.Integer, primary_key=True),
    sa.Column("key_id", sa.Integer, primary_key=True),
    sa.Column("cell_seq", sa.Integer, primary_key=True),
    sa.Column("first_step", sa.BigInteger, nullable=False),
    sa.Column("last_step", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)

# The processes that write a run (revision 0005): a RUNNING run is orphaned only when
# its creator (runs.host/pid) and every one of these are gone.
run_writers = sa.Table(
    "run_writers",
    metadata,
    sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.run_pk"), primary_key=True),
    sa.Column("host", sa.String(256), primary_key=True),
    sa.Column("pid", sa.Integer, primary_key=True),
    sa.Column("heartbeat", sa.BigInteger, nullable=False),
)

# -- model registry (revision 0004) -----------------------------------------------------
# A version's files are rows of (path, sha256, size) pointing at content-addressed
# blobs, so a version stays loadable after its source run is deleted and purged;
# garbage collection keeps every blob a version refers to. Versions name their
# source run by id (no foreign key): the run may go, the version stays.
# ``registry_events`` is the audit trail; it names models by name so that it
# outlives a deleted model.

registered_models = sa.Table(
    "registered_models",
    metadata,
    sa.Column("model_pk", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(256), nullable=False, unique=True),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("last_updated_time", sa.BigInteger, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
)

registered_model_tags = sa.Table(
    "registered_model_tags",
    metadata,
    sa.Column(
        "model_pk", sa.Integer, sa.ForeignKey("registered_models.model_pk"), primary_key=True
    ),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column(
        "model_pk", sa.Integer, sa.ForeignKey("registered_models.model_pk"), primary_key=True
    ),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("last_updated_time", sa.BigInteger, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("user_id", sa.String(256), nullable=False),
    sa.Column("current_stage", sa.String(20), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("flavor", sa.String(64), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Index("ix_model_versions_run_id", "run_id"),
)

model_version_tags = sa.Table(
    "model_version_tags",
    metadata,
    sa.Column(
        "model_pk", sa.Integer, sa.ForeignKey("registered_models.model_pk"), primary_key=True
    ),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

model_version_files = sa.Table(
    "model_version_files",
    metadata,
    sa.Column(
        "model_pk", sa.Integer, sa.ForeignKey("registered_models.model_pk"), primary_key=True
    ),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Index("ix_model_version_files_sha256", "sha256"),
)

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column(
        "model_pk", sa.Integer, sa.ForeignKey("registered_models.model_pk"), primary_key=True
    ),
    sa.Column("alias", sa.String(256), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

registry_events = sa.Table(
    "registry_events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True),
    sa.Column("time", sa.BigInteger, nullable=False),
    sa.Column("model_name", sa.String(256), nullable=False),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("key", sa.String(256), nullable=True),
    sa.Column("from_value", sa.Text, nullable=True),
    sa.Column("to_value", sa.Text, nullable=True),
    sa.Column("user_id", sa.String(256), nullable=False),
    sa.Column("host", sa.String(256), nullable=False),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Index("ix_registry_events_model", "model_name", "event_id"),
)

# -- logged models (revision 0006) -------------------------------------------------------
# MLflow 3's LoggedModel: a model with an id of its own ("m-<32 hex>"), its params, tags and
# the metrics linked to it (from any run, with the dataset they were computed on). A model
# logged into a run keeps its files among the run's artifacts (``source_run_id`` +
# ``artifact_path``); one created on its own keeps them in ``logged_model_files``
# (content-addressed blobs, kept by garbage collection like registered versions' files).
logged_models = sa.Table(
    "logged_models",
    metadata,
    # The integer key orders models by creation (several can share a millisecond).
    sa.Column("model_pk", sa.Integer, primary_key=True),
    sa.Column("model_id", sa.String(40), nullable=False, unique=True),
    sa.Column(
        "experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id"), nullable=False
    ),
    sa.Column("name", sa.String(250), nullable=False),
    sa.Column("source_run_id", sa.String(32), nullable=True),
    sa.Column("artifact_path", sa.Text, nullable=True),
    sa.Column("model_type", sa.String(250), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("lifecycle_stage", sa.String(32), nullable=False),
    sa.Column("creation_time", sa.BigInteger, nullable=False),
    sa.Column("last_updated_time", sa.BigInteger, nullable=False),
    sa.Index("ix_logged_models_experiment_id", "experiment_id"),
)


def _logged_model_id() -> sa.Column[str]:
    return sa.Column(
        "model_id", sa.String(40), sa.ForeignKey("logged_models.model_id"), primary_key=True
    )


def _logged_model_pairs(name: str) -> sa.Table:
    """A logged model's key -> value table (params, tags)."""
    return sa.Table(
        name,
        metadata,
        _logged_model_id(),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


logged_model_params = _logged_model_pairs("logged_model_params")
logged_model_tags = _logged_model_pairs("logged_model_tags")

logged_model_metrics = sa.Table(
    "logged_model_metrics",
    metadata,
    sa.Column("metric_pk", sa.Integer, primary_key=True),
    sa.Column("model_id", sa.String(40), sa.ForeignKey("logged_models.model_id"), nullable=False),
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("dataset_name", sa.String(500), nullable=True),
    sa.Column("dataset_digest", sa.String(64), nullable=True),
    sa.Index("ix_logged_model_metrics_model_id", "model_id"),
)

logged_model_files = sa.Table(
    "logged_model_files",
    metadata,
    _logged_model_id(),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Index("ix_logged_model_files_sha256", "sha256"),
)
