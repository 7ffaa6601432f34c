"""Pages of results, as MLflow returns them: a list with the ``token`` of the next page."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import TypeVar

from nbtrack.exceptions import InvalidInputError

T = TypeVar("T")


class PagedList(list[T]):
    """A page of results with the ``token`` of the next page (None on the last), as in MLflow."""

    def __init__(self, items: Iterable[T], token: str | None) -> None:
        super().__init__(items)
        self.token = token


def offset_token(offset: int) -> str:
    """The page token of the results from ``offset`` on."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def token_offset(token: str | None) -> int:
    """The offset a page token names (0 for None); a token not made here is an error."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInputError(
            f"Invalid page token {token!r}: pass the token of a previous page's result"
        ) from None
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInputError(f"Invalid page token {token!r}")
    return offset
