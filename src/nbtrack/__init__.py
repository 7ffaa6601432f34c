"""nbtrack: notebook-first machine-learning lifecycle tracking.

MLflow's tracking API over a local SQLite store::

    import nbtrack
    with nbtrack.start_run(run_name="baseline"):
        nbtrack.log_param("lr", 0.01)
        nbtrack.log_metric("loss", 0.42, step=1)

Importing this package loads SQLAlchemy only; pandas, Alembic and plotting
libraries are imported when first needed.
"""

from typing import Any

from nbtrack._fluent_more import (
    delete_experiment,
    delete_experiment_tag,
    delete_tag,
    flush_async_logging,
    get_artifact_uri,
    get_parent_run,
    get_registry_uri,
    last_active_run,
    log_input,
    restore_experiment,
    set_experiment_tag,
    set_experiment_tags,
    set_registry_uri,
)
from nbtrack._logged_models_fluent import (
    clear_active_model,
    create_external_model,
    get_active_model_id,
    get_logged_model,
    initialize_logged_model,
    last_logged_model,
    search_logged_models,
    set_active_model,
)
from nbtrack._media import load_table, log_image, log_table
from nbtrack._version import __version__  # generated from package.json at build time
from nbtrack.autologging import autolog
from nbtrack.entities import (
    ArtifactInfo,
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from nbtrack.exceptions import (
    ArtifactIntegrityError,
    FilterSyntaxError,
    InvalidInputError,
    MlflowException,
    NbtrackError,
    NbtrackWarning,
    NotFoundError,
    StoreError,
    WriteError,
)
from nbtrack.fluent import (
    ActiveRun,
    RunOperations,
    active_run,
    create_experiment,
    delete_run,
    end_run,
    flush,
    get_experiment,
    get_experiment_by_name,
    get_metric_history,
    get_run,
    get_tracking_uri,
    last_active_run_id,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    restore_run,
    search_experiments,
    search_runs,
    set_experiment,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)
from nbtrack.registry import (
    ModelVersion,
    RegisteredModel,
    TrackingClient,
    register_model,
    search_model_versions,
    search_registered_models,
)
from nbtrack.system_metrics import (
    disable_system_metrics_logging,
    enable_system_metrics_logging,
    set_system_metrics_node_id,
    set_system_metrics_samples_before_logging,
    set_system_metrics_sampling_interval,
)


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext nbtrack``: the ``%track`` magics and the notebook cell hooks."""
    from nbtrack.notebook import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell: Any) -> None:
    """``%unload_ext nbtrack``: removes every hook the extension registered."""
    from nbtrack.notebook import unload_ipython_extension as unload

    unload(shell)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Where jupyter_server finds the extension enabled as ``nbtrack`` (see nbtrack.server)."""
    return [{"module": "nbtrack.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension shipped inside the package (built from labextension/)."""
    return [{"src": "labextension", "dest": "jupyterlab-nbtrack"}]


MlflowClient = TrackingClient  # so `from nbtrack import MlflowClient` ports MLflow code as-is

# MLflow's module layout too (tracking, artifacts, data, ...), so `import nbtrack as mlflow`
# code reaching for `mlflow.tracking.MlflowClient` or `mlflow.data.from_pandas` works.
_LAZY_MODULES = (
    "sklearn",
    "pyfunc",
    "pytorch",
    "models",
    "tracking",
    "artifacts",
    "data",
    "environment_variables",
    "protos",
    "utils",
    "xgboost",
    "lightgbm",
)


def evaluate(*args: Any, **kwargs: Any) -> Any:
    """MLflow's default evaluator for classifiers and regressors (see :mod:`nbtrack._evaluate`)."""
    from nbtrack._evaluate import evaluate as run_evaluation

    return run_evaluation(*args, **kwargs)


def __getattr__(name: str) -> Any:
    # nbtrack.sklearn, nbtrack.pyfunc, ...: imported on first use, so that
    # `import nbtrack` never loads scikit-learn, torch or pandas.
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"nbtrack.{name}")
    raise AttributeError(f"module 'nbtrack' has no attribute {name!r}")


__all__ = [
    "ActiveRun",
    "ArtifactInfo",
    "ArtifactIntegrityError",
    "Experiment",
    "FilterSyntaxError",
    "InvalidInputError",
    "LifecycleStage",
    "Metric",
    "MlflowClient",
    "MlflowException",
    "ModelVersion",
    "NbtrackError",
    "NbtrackWarning",
    "NotFoundError",
    "Param",
    "RegisteredModel",
    "Run",
    "RunData",
    "RunInfo",
    "RunOperations",
    "RunStatus",
    "RunTag",
    "StoreError",
    "TrackingClient",
    "ViewType",
    "WriteError",
    "__version__",
    "active_run",
    "autolog",
    "clear_active_model",
    "create_experiment",
    "create_external_model",
    "delete_experiment",
    "delete_experiment_tag",
    "delete_run",
    "delete_tag",
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "end_run",
    "evaluate",
    "flush",
    "flush_async_logging",
    "get_active_model_id",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_logged_model",
    "get_metric_history",
    "get_parent_run",
    "get_registry_uri",
    "get_run",
    "get_tracking_uri",
    "initialize_logged_model",
    "last_active_run",
    "last_active_run_id",
    "last_logged_model",
    "load_ipython_extension",
    "load_table",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "register_model",
    "restore_experiment",
    "restore_run",
    "search_experiments",
    "search_logged_models",
    "search_model_versions",
    "search_registered_models",
    "search_runs",
    "set_active_model",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_registry_uri",
    "set_system_metrics_node_id",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "unload_ipython_extension",
]
