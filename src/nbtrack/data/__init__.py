"""Datasets a run takes as input (MLflow's ``mlflow.data``).

``from_pandas(df, source=..., name=..., targets=...)`` and
``from_numpy(features, source=..., targets=...)`` describe a dataset by name,
digest (MLflow's algorithm, so the same data gets the same digest), source,
schema and profile; ``nbtrack.log_input(dataset, context="train")`` records it
on the active run, where ``run.inputs.dataset_inputs`` lists it. pandas and
numpy are imported only when these functions are called.
"""

from nbtrack.data._dataset import Dataset
from nbtrack.data.numpy_dataset import NumpyDataset, from_numpy
from nbtrack.data.pandas_dataset import PandasDataset, from_pandas

__all__ = ["Dataset", "NumpyDataset", "PandasDataset", "from_numpy", "from_pandas"]
