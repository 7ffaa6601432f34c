"""Errors and warnings raised by nbtrack.

Every error names the problem and, where there is one, the fix.
"""

from __future__ import annotations


class NbtrackError(Exception):
    """Base class of every error nbtrack raises on purpose."""


class InvalidInputError(NbtrackError, ValueError):
    """A name, value or path given to the API was refused; the message says why."""


class NotFoundError(NbtrackError, LookupError):
    """A run, experiment or artifact that was asked for does not exist."""


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


class StoreError(NbtrackError):
    """The store cannot be used as asked: it needs upgrading, is read-only, or is not nbtrack's.

    Raised before anything in the store is changed; the message names the file
    and what to do.
    """


class NbtrackWarning(UserWarning):
    """Warnings nbtrack emits (the test suite turns them into errors)."""
