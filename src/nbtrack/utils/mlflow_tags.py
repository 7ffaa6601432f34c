"""The system tag names MLflow sets on runs, which nbtrack sets and reads too."""

MLFLOW_RUN_NAME = "mlflow.runName"
MLFLOW_PARENT_RUN_ID = "mlflow.parentRunId"
MLFLOW_USER = "mlflow.user"
MLFLOW_SOURCE_NAME = "mlflow.source.name"
MLFLOW_SOURCE_TYPE = "mlflow.source.type"
MLFLOW_GIT_COMMIT = "mlflow.source.git.commit"
MLFLOW_GIT_BRANCH = "mlflow.source.git.branch"
MLFLOW_GIT_REPO_URL = "mlflow.source.git.repoURL"
MLFLOW_RUN_NOTE = "mlflow.note.content"
MLFLOW_DATASET_CONTEXT = "mlflow.data.context"
MLFLOW_LOGGED_MODELS = "mlflow.log-model.history"

#: Tags derived from a run's own fields (its name, its parent) rather than stored.
DERIVED = frozenset({MLFLOW_RUN_NAME, MLFLOW_PARENT_RUN_ID})
