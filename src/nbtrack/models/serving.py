"""The scoring server: a Starlette app on uvicorn, with MLflow's endpoints.

* ``POST /invocations``: JSON (``dataframe_split``, ``dataframe_records``,
  ``inputs``, ``instances``) or CSV in; ``{"predictions": [...]}`` out. Input
  that does not match the signature gets 400 with the signature error; a
  body over ``max_body_bytes`` gets 413 (checked on ``Content-Length`` before
  reading, and while reading a chunked body); other content types get 415.
* ``GET /ping`` and ``GET /health``: 200 once the model is loaded.
* ``GET /version``: nbtrack's version (plain text, as MLflow's server answers).

Prediction runs in a worker thread, so concurrent requests do not block the
event loop. ``nbtrack models serve`` runs :func:`build_app` on uvicorn.
Requires the ``models`` extra: ``pip install "nbtrack[models]"``.
"""

from __future__ import annotations

import importlib.metadata
import logging
from typing import TYPE_CHECKING

from nbtrack._optional import MissingExtraError
from nbtrack.exceptions import InvalidInputError
from nbtrack.models._api import PyFuncModel
from nbtrack.models._payload import error_json, parse, predictions_json

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

log = logging.getLogger(__name__)

#: Default largest request body (bytes).
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024


class _TooLarge(Exception):
    pass


def build_app(model: PyFuncModel, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Starlette:
    """The ASGI app serving ``model`` (run it with any ASGI server)."""
    try:
        from starlette.applications import Starlette
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import PlainTextResponse, Response
        from starlette.routing import Route
    except ImportError:
        raise MissingExtraError(
            'serving a model needs starlette and uvicorn: pip install "nbtrack[models]"'
        ) from None
    version = importlib.metadata.version("nbtrack")

    def error(status: int, code: str, message: str) -> Response:
        return Response(error_json(code, message), status, media_type="application/json")

    def score(content_type: str, body: bytes) -> bytes:
        # One worker-thread hop per request: parse, check, predict, encode.
        return predictions_json(model.predict(parse(content_type, body)))

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            raise _TooLarge(int(declared))
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise _TooLarge(size)
            chunks.append(chunk)
        return b"".join(chunks)

    async def invocations(request: Request) -> Response:
        try:
            body = await read_body(request)
        except _TooLarge as exc:
            return error(
                413,
                "REQUEST_TOO_LARGE",
                f"the request body is {exc.args[0]} bytes or more; this server takes at most "
                f"{max_body_bytes} (nbtrack models serve --max-body-bytes)",
            )
        content_type = request.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() not in ("application/json", "text/csv"):
            return error(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"unsupported content type {content_type or '(none)'!r}; "
                "send application/json or text/csv",
            )
        try:
            payload = await run_in_threadpool(score, content_type, body)
        except InvalidInputError as exc:
            return error(400, "BAD_REQUEST", str(exc))
        except (ValueError, TypeError) as exc:
            return error(400, "BAD_REQUEST", f"the model could not score this input: {exc}")
        except Exception as exc:
            log.exception("nbtrack: prediction failed")
            return error(500, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
        return Response(payload, media_type="application/json")

    async def ping(_request: Request) -> Response:
        return PlainTextResponse("\n")

    async def show_version(_request: Request) -> Response:
        return PlainTextResponse(version)

    return Starlette(
        routes=[
            Route("/invocations", invocations, methods=["POST"]),
            Route("/ping", ping, methods=["GET"]),
            Route("/health", ping, methods=["GET"]),
            Route("/version", show_version, methods=["GET"]),
        ]
    )
