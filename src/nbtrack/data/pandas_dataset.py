"""Datasets from pandas DataFrames (MLflow's ``mlflow.data.pandas_dataset``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbtrack.data._dataset import MAX_ROWS, Dataset, column_type, ensure_name, md5_digest
from nbtrack.data._dataset import resolve_source as _resolve_source
from nbtrack.exceptions import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd


def compute_pandas_digest(df: pd.DataFrame) -> str:
    """MLflow's digest of a DataFrame: its first rows' numeric and string columns, its size."""
    import numpy as np
    import pandas as pd

    trimmed = df.head(MAX_ROWS)
    string_columns = trimmed.columns[(df.map(type) == str).all(axis=0)]  # noqa: E721 (MLflow's test)
    numeric_columns = trimmed.select_dtypes(include=[np.number]).columns
    trimmed = trimmed[string_columns.union(numeric_columns)]
    return md5_digest(
        [pd.util.hash_pandas_object(trimmed).values, np.int64(len(df))]
        + [str(column).encode() for column in df.columns]
    )


class PandasDataset(Dataset):
    """A DataFrame as a run's input; ``df`` is the data, ``targets`` the label column."""

    def __init__(
        self,
        df: pd.DataFrame,
        source: Any = None,
        targets: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        predictions: str | None = None,
    ) -> None:
        if targets is not None and targets not in df.columns:
            raise InvalidInputError(
                f"targets column {targets!r} is not a column of the DataFrame "
                f"(columns: {', '.join(map(str, df.columns))})"
            )
        source_dict, source_type = _resolve_source(source)
        super().__init__(
            ensure_name(name), digest or compute_pandas_digest(df), source_dict, source_type
        )
        self.df = df
        self.targets = targets
        self.predictions = predictions

    @property
    def schema(self) -> dict[str, Any]:
        """One column spec per column: name, MLflow type, required."""
        return {
            "mlflow_colspec": [
                {"name": str(column), "type": column_type(dtype), "required": True}
                for column, dtype in self.df.dtypes.items()
            ]
        }

    @property
    def profile(self) -> dict[str, Any]:
        """``num_rows`` and ``num_elements``."""
        return {"num_rows": len(self.df), "num_elements": int(self.df.size)}


def from_pandas(
    df: pd.DataFrame,
    source: Any = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> PandasDataset:
    """Describe a DataFrame as a dataset (log it with ``nbtrack.log_input``)."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidInputError(f"from_pandas takes a pandas DataFrame, got {type(df).__name__}")
    return PandasDataset(df, source, targets, name, digest, predictions)
