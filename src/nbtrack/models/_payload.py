"""Request bodies of the scoring server (MLflow's formats) and its JSON responses.

JSON bodies hold exactly one of:

* ``dataframe_split``: ``{"columns": [...], "data": [[...], ...]}`` (``index`` optional)
* ``dataframe_records``: ``[{"col": value, ...}, ...]``
* ``inputs`` or ``instances``: a list (an array, row by row) or a dict of
  columns (``{"col": [values...]}``)

plus an optional ``params`` object (accepted, passed nowhere yet). CSV bodies
(``text/csv``) have a header row. Everything that cannot be read raises
:class:`PayloadError` with a message for the client.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

from nbtrack.exceptions import InvalidInputError

JSON_FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")


class PayloadError(InvalidInputError):
    """The request body could not be read as model input."""


def parse(content_type: str, body: bytes) -> Any:
    """Model input from a request body of the given content type."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json":
        return parse_json(body)
    if media == "text/csv":
        return parse_csv(body)
    raise PayloadError(
        f"unsupported content type {content_type or '(none)'!r}; send application/json "
        f"({', '.join(JSON_FORMATS)}) or text/csv"
    )


def parse_json(body: bytes) -> Any:
    """Model input from a JSON body in one of MLflow's formats."""
    import numpy as np
    import pandas as pd

    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PayloadError(
            f"the JSON body must be an object with one of {', '.join(JSON_FORMATS)}, "
            f"got {type(document).__name__}"
        )
    keys = [k for k in JSON_FORMATS if k in document]
    unknown = sorted(set(document) - {*JSON_FORMATS, "params"})
    if len(keys) != 1 or unknown:
        found = ", ".join(sorted(document)) or "no keys"
        raise PayloadError(
            f"the JSON body must have exactly one of {', '.join(JSON_FORMATS)} "
            f"(and optionally params); found {found}"
        )
    key, value = keys[0], document[keys[0]]
    try:
        if key == "dataframe_split":
            if not isinstance(value, dict) or "data" not in value:
                raise PayloadError(
                    'dataframe_split must be {"columns": [...], "data": [[...], ...]}'
                )
            return pd.DataFrame(
                value["data"], columns=value.get("columns"), index=value.get("index")
            )
        if key == "dataframe_records":
            if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
                raise PayloadError('dataframe_records must be a list of {"column": value} objects')
            return pd.DataFrame.from_records(value)
        if isinstance(value, dict):
            return pd.DataFrame(value)
        if not isinstance(value, list):
            raise PayloadError(f"{key} must be a list of rows or a dict of columns")
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"{key} could not be read as a table or array: {exc}") from None


def parse_csv(body: bytes) -> Any:
    """Model input from a CSV body with a header row."""
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(body))
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' parser errors are ValueErrors
        raise PayloadError(f"the body is not valid CSV: {exc}") from None
    if frame.empty:
        raise PayloadError("the CSV body has no rows; send a header row and at least one row")
    return frame


def predictions_json(predictions: Any) -> bytes:
    """``{"predictions": ...}`` as JSON; NaN becomes null."""
    import numpy as np
    import pandas as pd

    if isinstance(predictions, pd.DataFrame):
        value: Any = predictions.to_dict(orient="records")
    elif isinstance(predictions, pd.Series | np.ndarray):
        value = predictions.tolist()
    else:
        value = predictions
    return json.dumps({"predictions": _clean(value)}, default=_default).encode()


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    return value


def _default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return _clean(value.item())
    return str(value)


def error_json(code: str, message: str) -> bytes:
    """MLflow's error body: ``{"error_code": ..., "message": ...}``."""
    return json.dumps({"error_code": code, "message": message}).encode()
