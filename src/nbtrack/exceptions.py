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
