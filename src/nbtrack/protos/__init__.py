"""MLflow's ``mlflow.protos`` names that user code imports (error codes only)."""
