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

from nbtrack._version import __version__  # generated from package.json at build time
from nbtrack.client import ViewType
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
)
from nbtrack.exceptions import (
    ArtifactIntegrityError,
    FilterSyntaxError,
    InvalidInputError,
    NbtrackError,
    NbtrackWarning,
    NotFoundError,
    StoreError,
    WriteError,
)
from nbtrack.fluent import (
    ActiveRun,
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

_LAZY_MODULES = ("sklearn", "pyfunc", "pytorch", "models")


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
    "ModelVersion",
    "NbtrackError",
    "NbtrackWarning",
    "NotFoundError",
    "Param",
    "RegisteredModel",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "StoreError",
    "TrackingClient",
    "ViewType",
    "WriteError",
    "__version__",
    "active_run",
    "create_experiment",
    "delete_run",
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "end_run",
    "flush",
    "get_experiment",
    "get_experiment_by_name",
    "get_metric_history",
    "get_run",
    "get_tracking_uri",
    "last_active_run_id",
    "load_ipython_extension",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "register_model",
    "restore_run",
    "search_experiments",
    "search_model_versions",
    "search_registered_models",
    "search_runs",
    "set_experiment",
    "set_system_metrics_node_id",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "unload_ipython_extension",
]
