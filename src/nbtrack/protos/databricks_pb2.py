"""MLflow's error codes (``from mlflow.protos.databricks_pb2 import ErrorCode, ...``).

Only the names: ``ErrorCode.Name(INVALID_PARAMETER_VALUE)`` gives
``"INVALID_PARAMETER_VALUE"``, which is what ``MlflowException.error_code`` holds.
"""

from __future__ import annotations

# MLflow's numbers, so code comparing them keeps working.
INTERNAL_ERROR = 1
TEMPORARILY_UNAVAILABLE = 2
BAD_REQUEST = 10
INVALID_PARAMETER_VALUE = 1000
ENDPOINT_NOT_FOUND = 1001
INVALID_STATE = 1002
PERMISSION_DENIED = 1003
RESOURCE_ALREADY_EXISTS = 3001
RESOURCE_DOES_NOT_EXIST = 3002

_NAMES = {
    value: name
    for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, int)
}


class ErrorCode:
    """``ErrorCode.Name(code)`` and ``ErrorCode.Value(name)``, as on MLflow's protobuf enum."""

    @staticmethod
    def Name(code: int) -> str:
        """The name of an error code number."""
        try:
            return _NAMES[code]
        except KeyError:
            raise ValueError(f"unknown error code {code!r}") from None

    @staticmethod
    def Value(name: str) -> int:
        """The number of an error code name."""
        for value, known in _NAMES.items():
            if known == name:
                return value
        raise ValueError(f"unknown error code name {name!r}")
