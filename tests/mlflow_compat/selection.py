"""Which of MLflow's test functions the compat suite runs, and what each is expected to do.

Keys are paths in https://github.com/mlflow/mlflow (Apache-2.0); the commits read
are named in README.md. Every public-API test of those files is listed
(tests that patch MLflow internals, use removed APIs or private helpers are
not, see README.md). A value is ``PASS`` or ``Different(reason)``: a knowing,
documented difference, run as ``xfail(strict=True)`` so that it fails the suite
the day it starts passing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# MLflow's files, copied with their origin and licence (mlflow_source/NOTICE.md);
# NBTRACK_MLFLOW_SOURCE runs the same selection from another MLflow checkout.
SOURCE = Path(os.environ.get("NBTRACK_MLFLOW_SOURCE") or Path(__file__).with_name("mlflow_source"))
# MLflow files read from its repository but not committed here (README.md, "Origin").
LOCAL = Path(__file__).with_name("mlflow_local")


def mlflow_file(path: str) -> Path | None:
    """MLflow's file ``path`` from SOURCE, else from ``mlflow_local/``; None if neither has it."""
    for root in (SOURCE, LOCAL):
        if (root / path).is_file():
            return root / path
    return None


@dataclass(frozen=True)
class Different:
    """A test nbtrack knowingly fails; ``reason`` says why in one line."""

    reason: str
    wording_only: bool = False


PASS = "pass"  # noqa: S105 (not a password)

TRACKING = "tests/tracking/test_tracking.py"
FLUENT = "tests/tracking/fluent/test_fluent.py"
CLIENT = "tests/tracking/test_client.py"

_RUN_NAME_TAG = Different(
    "counts a run's tags without mlflow.runName, which MLflow 3 adds too (MLflow 3.17 fails it)"
)

SELECTED: dict[str, dict[str, str | Different]] = {
    TRACKING: dict.fromkeys(
        (
            "test_create_experiment",
            "test_create_experiment_with_duplicate_name",
            "test_create_experiments_with_bad_names",
            "test_create_experiments_with_bad_name_types",
            "test_set_experiment_by_name",
            "test_set_experiment_by_id",
            "test_set_experiment_parameter_validation",
            "test_set_experiment_with_deleted_experiment",
            "test_start_run_context_manager",
            "test_start_and_end_run",
            "test_metric_timestamp",
            "test_log_batch",
            "test_log_metric",
            "test_log_metrics_uses_millisecond_timestamp_resolution_fluent",
            "test_log_metrics_uses_millisecond_timestamp_resolution_client",
            "test_set_tags",
            "test_log_metric_validation",
            "test_log_param",
            "test_log_params",
            "test_log_params_duplicate_keys_raises",
            "test_log_batch_duplicate_entries_raises",
            "test_log_batch_validates_entity_names_and_values",
            "test_start_deleted_run",
            "test_get_artifact_uri_with_artifact_path_unspecified_returns_artifact_root_dir",
            "test_search_runs_multiple_experiments",
        ),
        PASS,
    )
    | {
        "test_log_batch": _RUN_NAME_TAG,
        "test_set_tags": _RUN_NAME_TAG,
    },
    FLUENT: dict.fromkeys(
        (
            "test_get_experiment_by_id",
            "test_get_experiment_by_name",
            "test_start_run_raises_invalid_experiment_id",
            "test_start_run_resumes_existing_run_and_sets_user_specified_tags",
            "test_start_existing_run_status",
            "test_start_existing_run_end_time",
            "test_start_run_conflicting_description",
            "test_start_run_resumes_existing_run_and_sets_description",
            "test_start_run_resumes_existing_run_and_sets_description_twice",
            "test_search_runs_by_non_existing_experiment_name",
            "test_search_runs_by_experiment_id_and_name",
            "test_delete_tag",
            "test_last_active_run_returns_currently_active_run",
            "test_last_active_run_returns_most_recently_ended_active_run",
            "test_set_experiment_tag",
            "test_set_experiment_tags",
            "test_log_input",
            "test_get_parent_run",
            "test_log_metric_async",
            "test_log_metric_async_throws",
            "test_log_param_async",
            "test_log_param_async_throws",
            "test_flush_async_logging",
            "test_set_tag_async",
        ),
        PASS,
    ),
    CLIENT: dict.fromkeys(
        (
            "test_invalid_run_id_log_artifact",
            "test_log_model_artifact",
            "test_log_model_artifacts",
            "test_logged_model_model_id_required",
            "test_log_metric_link_to_active_model",
            "test_log_batch_link_to_active_model",
        ),
        PASS,
    ),
}
