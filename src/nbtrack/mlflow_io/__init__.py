"""Moving runs between MLflow and nbtrack: ``import_mlflow`` and ``export_mlflow``.

Both need MLflow (``pip install 'nbtrack[mlflow]'``), imported when called.
"""

from nbtrack.mlflow_io._export import ExportReport, export_mlflow
from nbtrack.mlflow_io._import import import_mlflow
from nbtrack.mlflow_io._import_report import ImportReport

__all__ = ["ExportReport", "ImportReport", "export_mlflow", "import_mlflow"]
