"""Optional dependencies: imported where used, with an error that names the extra to install.

The core install covers tracking, the notebook panels and the server extension;
models and serving (``nbtrack[models]``), Dask sweeps (``nbtrack[dask]``) and
static chart images (``nbtrack[png]``) need extras.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from nbtrack.exceptions import NbtrackError


class MissingExtraError(NbtrackError, ImportError):
    """An optional dependency is not installed; the message says which extra brings it."""


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` naming the extra to install.

    ``purpose`` completes "... needs <package>", e.g. ``"serving a model"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = (exc.name or module).split(".")[0]
        raise MissingExtraError(
            f'{purpose} needs {package}, which is not installed: pip install "nbtrack[{extra}]"'
        ) from None
