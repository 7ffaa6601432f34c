"""Errors of the model format, loading and serving."""

from __future__ import annotations

from nbtrack.exceptions import InvalidInputError, NbtrackError


class ModelFormatError(NbtrackError):
    """A model directory is not one nbtrack can read (no or malformed ``MLmodel``)."""


class ModelIntegrityError(NbtrackError):
    """A model file is missing or its sha256 differs from the one recorded at log time."""


class UnsafeModelError(NbtrackError):
    """Loading the model would run code from its files; the message says how to allow it."""


class SignatureError(InvalidInputError):
    """Input to ``predict`` does not match the model's signature; names the column."""
