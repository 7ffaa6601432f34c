"""Model signatures: what a model takes and returns, inferred from an input example.

A signature is MLflow's: a list of column specs (name, type) for tabular input,
or one tensor spec (dtype, shape) for arrays. It is written to ``MLmodel`` in
MLflow's JSON form, so MLflow enforces it too. :func:`enforce` checks input
before ``predict`` and names the missing or mistyped column.

Conversions allowed by :func:`enforce` (nothing is ever narrowed):
integers to wider integers or to float/double, float to double, and for a
column signature a 2-D array with as many columns as the signature (the
columns are taken in signature order). Extra columns are dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbtrack.models._errors import SignatureError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: MLflow's column types and the numpy dtype each one is held in.
COLUMN_DTYPES: dict[str, str] = {
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "object",
    "binary": "object",
    "datetime": "datetime64[ns]",
}
# Which column types a value of each type may be given for (safe widening only).
_ACCEPTS: dict[str, frozenset[str]] = {
    "boolean": frozenset({"boolean"}),
    "integer": frozenset({"integer"}),
    "long": frozenset({"integer", "long"}),
    "float": frozenset({"integer", "float"}),
    "double": frozenset({"integer", "long", "float", "double"}),
    "string": frozenset({"string"}),
    "binary": frozenset({"binary"}),
    "datetime": frozenset({"datetime"}),
}


@dataclass(frozen=True)
class ColSpec:
    """One input or output column: MLflow type name (``double``, ``string``...) and name."""

    type: str
    name: str | None = None
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        """MLflow's JSON form of this column."""
        out: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out


@dataclass(frozen=True)
class TensorSpec:
    """An array input or output: numpy dtype name and shape (-1 for any size)."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """MLflow's JSON form of this tensor."""
        out: dict[str, Any] = {
            "type": "tensor",
            "tensor-spec": {"dtype": self.dtype, "shape": list(self.shape)},
        }
        if self.name is not None:
            out["name"] = self.name
        return out


Spec = ColSpec | TensorSpec


@dataclass(frozen=True)
class ModelSignature:
    """The model's inputs (and outputs, when known) in MLflow's schema language."""

    inputs: tuple[Spec, ...]
    outputs: tuple[Spec, ...] | None = None

    @property
    def columns(self) -> tuple[ColSpec, ...]:
        """The input columns (empty for a tensor signature)."""
        return tuple(s for s in self.inputs if isinstance(s, ColSpec))

    def to_dict(self) -> dict[str, Any]:
        """MLflow's ``signature`` entry of ``MLmodel``: schemas as JSON strings."""
        return {
            "inputs": json.dumps([s.to_dict() for s in self.inputs]),
            "outputs": None
            if self.outputs is None
            else json.dumps([s.to_dict() for s in self.outputs]),
            "params": None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSignature:
        """The signature from its ``MLmodel`` entry."""
        outputs = data.get("outputs")
        return cls(
            _specs(json.loads(data["inputs"])),
            None if outputs is None else _specs(json.loads(outputs)),
        )

    def describe(self) -> str:
        """One line for messages, e.g. ``sepal_length: double, petal_width: double``."""
        return _describe(self.inputs)


def _specs(items: list[dict[str, Any]]) -> tuple[Spec, ...]:
    out: list[Spec] = []
    for item in items:
        if item.get("type") == "tensor":
            spec = item["tensor-spec"]
            out.append(TensorSpec(spec["dtype"], tuple(spec["shape"]), item.get("name")))
        else:
            out.append(ColSpec(item["type"], item.get("name"), item.get("required", True)))
    return tuple(out)


def _describe(specs: tuple[Spec, ...]) -> str:
    parts = []
    for spec in specs:
        if isinstance(spec, TensorSpec):
            parts.append(f"tensor of {spec.dtype} with shape {spec.shape}")
        else:
            parts.append(f"{spec.name}: {spec.type}")
    return ", ".join(parts)


# -- inference -------------------------------------------------------------------------


def infer_signature(model_input: Any, model_output: Any = None) -> ModelSignature:
    """The signature of an input example (and of the model's output for it, if given).

    A pandas DataFrame gives one column spec per column; a numpy array a
    tensor spec whose first dimension is variable; a dict of lists or a list
    of dicts is read as a DataFrame.
    """
    inputs = _infer(model_input, "input example")
    outputs = None if model_output is None else _infer(model_output, "model output")
    return ModelSignature(inputs, outputs)


def _infer(data: Any, what: str) -> tuple[Spec, ...]:
    import numpy as np
    import pandas as pd

    if isinstance(data, dict | list) and not isinstance(data, np.ndarray):
        if isinstance(data, list) and data and not isinstance(data[0], dict):
            data = np.asarray(data)
        else:
            data = pd.DataFrame(data)
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, pd.DataFrame):
        return tuple(ColSpec(column_type(data[c], str(c)), str(c)) for c in data.columns)
    if isinstance(data, np.ndarray):
        if data.dtype == object:
            raise SignatureError(
                f"cannot infer a signature from an object array as {what}; "
                "give a DataFrame or an array of numbers"
            )
        return (TensorSpec(str(data.dtype), (-1, *data.shape[1:])),)
    raise SignatureError(
        f"cannot infer a signature from {type(data).__name__} as {what}; "
        "give a pandas DataFrame or a numpy array (or pass signature=)"
    )


def column_type(series: pd.Series[Any], name: str) -> str:
    """The MLflow type of a column's values; :class:`SignatureError` if it has none."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "long" if _itemsize(dtype) >= 8 or dtype.kind == "u" else "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float" if _itemsize(dtype) <= 4 else "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    values = series.dropna()
    if pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        if all(isinstance(v, str) for v in values):
            return "string"
        if all(isinstance(v, bytes) for v in values):
            return "binary"
    kinds = sorted({type(v).__name__ for v in values})
    raise SignatureError(
        f"column {name!r} holds {', '.join(kinds) or 'no values'}, which has no signature "
        "type; use numbers, booleans, strings, bytes or datetimes"
    )


def _itemsize(dtype: Any) -> int:
    return int(getattr(dtype, "itemsize", 8))


# -- enforcement -----------------------------------------------------------------------


def enforce(signature: ModelSignature | None, data: Any) -> Any:
    """``data`` checked against the signature and converted to what the model expects.

    Column signatures give a DataFrame with exactly the signature's columns,
    in order, each in its type's dtype. Tensor signatures give an array of
    the signature's dtype. Raises :class:`SignatureError` naming the problem.
    """
    if signature is None or not signature.inputs:
        return data
    if isinstance(signature.inputs[0], TensorSpec):
        return _enforce_tensor(signature.inputs[0], data)
    return _enforce_columns(signature.columns, data)


def _enforce_columns(columns: tuple[ColSpec, ...], data: Any) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    names = [c.name or str(i) for i, c in enumerate(columns)]
    if isinstance(data, pd.Series):
        data = data.to_frame().T if data.name is None else data.to_frame()
    if isinstance(data, dict):
        try:
            data = pd.DataFrame(data)
        except ValueError:
            data = pd.DataFrame([data])
    elif isinstance(data, list):
        data = pd.DataFrame(data) if data and isinstance(data[0], dict) else np.asarray(data)
    if isinstance(data, np.ndarray):
        if data.ndim != 2 or data.shape[1] != len(columns):
            raise SignatureError(
                f"input is an array of shape {data.shape}, but the model takes "
                f"{len(columns)} named columns ({_describe(columns)}); "
                "send a DataFrame, or a 2-D array with one column per signature column"
            )
        data = pd.DataFrame(data, columns=names)
    if not isinstance(data, pd.DataFrame):
        raise SignatureError(
            f"input is a {type(data).__name__}; the model takes a table with columns "
            f"{_describe(columns)} (a pandas DataFrame, dict of lists or list of dicts)"
        )
    present = {str(c) for c in data.columns}
    missing = [c for c in columns if c.required and (c.name or "") not in present]
    if missing:
        first = missing[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise SignatureError(
            f"input is missing column {first.name!r} ({first.type}){more}; "
            f"the model's signature expects: {_describe(columns)}"
        )
    out = {}
    for spec, name in zip(columns, names, strict=True):
        if name not in present:
            continue
        series = data[name]
        out[name] = _convert_column(series, spec, name)
    return pd.DataFrame(out, index=data.index)


def _convert_column(series: pd.Series[Any], spec: ColSpec, name: str) -> pd.Series[Any]:
    import numpy as np
    import pandas as pd

    if series.dtype == object and spec.type not in ("string", "binary"):
        # Values parsed from JSON or CSV may arrive as objects: numbers stay numbers.
        converted = pd.to_numeric(series, errors="coerce")
        bad = series[converted.isna() & series.notna()]
        if not bad.empty:
            raise SignatureError(
                f"column {name!r} has a value {bad.iloc[0]!r} that is not a number; "
                f"the model's signature expects {spec.type}"
            )
        series = converted
    try:
        actual = column_type(series, name)
    except SignatureError:
        raise SignatureError(
            f"column {name!r} has values of an unsupported type; "
            f"the model's signature expects {spec.type}"
        ) from None
    if actual not in _ACCEPTS[spec.type]:
        example = series.dropna()
        shown = f" such as {example.iloc[0]!r}" if not example.empty else ""
        raise SignatureError(
            f"column {name!r} has type {actual} (values{shown}), but the model's "
            f"signature expects {spec.type}"
        )
    if actual == spec.type or spec.type in ("string", "binary"):
        return series
    widened: pd.Series[Any] = series.astype(np.dtype(COLUMN_DTYPES[spec.type]))
    return widened


def _enforce_tensor(spec: TensorSpec, data: Any) -> np.ndarray[Any, Any]:
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame | pd.Series):
        data = data.to_numpy()
    try:
        array = np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"input cannot be read as an array: {exc}") from None
    if array.ndim != len(spec.shape):
        raise SignatureError(
            f"input has {array.ndim} dimension(s) (shape {array.shape}), but the model "
            f"takes a tensor of shape {spec.shape}"
        )
    for axis, (got, want) in enumerate(zip(array.shape, spec.shape, strict=True)):
        if want not in (-1, got):
            raise SignatureError(
                f"input has size {got} on axis {axis} (shape {array.shape}), but the model "
                f"takes a tensor of shape {spec.shape}"
            )
    target = np.dtype(spec.dtype)
    if array.dtype == target:
        return array
    if array.dtype == object or not np.can_cast(array.dtype, target, casting="safe"):
        raise SignatureError(
            f"input has dtype {array.dtype}, which cannot be safely converted to the "
            f"signature's {target}"
        )
    return array.astype(target)
