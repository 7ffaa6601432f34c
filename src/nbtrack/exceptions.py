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


class ArtifactIntegrityError(NbtrackError):
    """A stored artifact blob is not what the store recorded, or a row names no valid blob.

    Raised instead of serving the bytes: a blob edited on disk (its sha256 no
    longer matches its name), one that is missing, or a database row whose
    ``sha256`` is not 64 lowercase hex characters. ``path`` is the blob file
    (None when the row itself is invalid). Logging the original file again
    repairs an edited blob; ``nbtrack gc --verify`` lists every damaged one.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class FilterSyntaxError(InvalidInputError):
    """A search filter or ``order_by`` clause could not be parsed.

    ``position`` is the 0-based offset of the offending token in the filter.
    """

    def __init__(self, message: str, text: str, position: int) -> None:
        # A filter over 240 characters is shown as the 160 around the position, so that
        # the message stays short whatever the filter's length (a server puts it in a 400).
        start = 0 if len(text) <= 240 else max(0, min(position - 80, len(text) - 160))
        shown = text if len(text) <= 240 else text[start : start + 160]
        pointer = f"\n  {shown}\n  {' ' * (position - start)}^"
        if len(message) > 300:
            message = message[:297] + "..."
        super().__init__(f"{message} (at position {position}){pointer}")
        self.text = text
        self.position = position


class WriteError(NbtrackError):
    """The background writer could not store something that was logged.

    Raised by ``flush()`` (and so by ``end_run``) so that a failure is never
    silent; the message lists what was not written.
    """


class StoreError(NbtrackError):
    """The store cannot be used as asked: it needs upgrading, is read-only, or is not nbtrack's.

    Raised before anything in the store is changed; the message names the file
    and what to do.
    """


class NbtrackWarning(UserWarning):
    """Warnings nbtrack emits (the test suite turns them into errors)."""
