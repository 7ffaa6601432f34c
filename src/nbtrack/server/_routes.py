"""Every route of the server extension: the REST API's and the Experiments view's.

Its own module so that the view's handlers, built on the API's base handler,
and the API's routes don't import each other in a circle.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.utils import url_path_join

from nbtrack.server._config import NbtrackExtension
from nbtrack.server._handlers import ROUTES
from nbtrack.server._view_handlers import VIEW_ROUTES


def handlers(base_url: str, extension: NbtrackExtension) -> list[tuple[str, Any, dict[str, Any]]]:
    """Tornado URL specs of every route, under ``{base_url}nbtrack/api/``."""
    # The Experiments view's routes go before the catch-all (the last of ROUTES).
    routes = [*ROUTES[:-1], *VIEW_ROUTES, ROUTES[-1]]
    prefix = url_path_join(base_url, "nbtrack", "api")
    return [
        (url_path_join(prefix, pattern) + "/?$", handler, {"extension": extension})
        for pattern, handler in routes
    ]
