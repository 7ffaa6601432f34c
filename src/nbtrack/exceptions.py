"""Errors and warnings raised by nbtrack.

Every error names the problem and, where there is one, the fix.
"""

from __future__ import annotations

from typing import Any

#: MLflow's error code names (``mlflow.protos.databricks_pb2``), as ``error_code`` holds them.
INTERNAL_ERROR = "INTERNAL_ERROR"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
INVALID_STATE = "INVALID_STATE"


class MlflowException(Exception):
    """MLflow's base error: every nbtrack error is one, with MLflow's ``error_code``.

    ``error_code`` is a name such as ``"INVALID_PARAMETER_VALUE"`` or
    ``"RESOURCE_DOES_NOT_EXIST"`` (what MLflow's ``ErrorCode.Name(...)`` gives).
    """

    error_code: str = INTERNAL_ERROR

    def __init__(self, message: object = "", error_code: str | int | None = None, **_: Any) -> None:
        super().__init__(message)
        self.message = str(message)
        if error_code is not None:
            from nbtrack.protos.databricks_pb2 import ErrorCode

            self.error_code = (
                ErrorCode.Name(error_code) if isinstance(error_code, int) else error_code
            )

    @classmethod
    def invalid_parameter_value(cls, message: str, **kwargs: Any) -> MlflowException:
        """MLflow's constructor for an INVALID_PARAMETER_VALUE error."""
        return cls(message, error_code=INVALID_PARAMETER_VALUE, **kwargs)


class NbtrackError(MlflowException):
    """Base class of every error nbtrack raises on purpose."""


class InvalidInputError(NbtrackError, ValueError):
    """A name, value or path given to the API was refused; the message says why."""

    error_code = INVALID_PARAMETER_VALUE


class NotFoundError(NbtrackError, LookupError):
    """A run, experiment or artifact that was asked for does not exist."""

    error_code = RESOURCE_DOES_NOT_EXIST


class FilterSyntaxError(InvalidInputError):
    """A search filter or ``order_by`` clause could not be parsed.

    ``position`` is the 0-based offset of the offending token in the filter.
    """

    def __init__(self, message: str, text: str, position: int) -> None:
        pointer = f"\n  {text}\n  {' ' * position}^"
        super().__init__(f"{message} (at position {position}){pointer}")
        self.text = text
        self.position = position


class WriteError(NbtrackError):
    """The background writer could not store something that was logged.

    Raised by ``flush()`` (and so by ``end_run``) so that a failure is never
    silent; the message lists what was not written.
    """


class NbtrackWarning(UserWarning):
    """Warnings nbtrack emits (the test suite turns them into errors)."""
