"""The registry's search grammar (MLflow's, plus OR and parentheses), compiled to SQL.

::

    name = 'iris' and tags.team = 'vision'
    name LIKE 'iris%'      run_id IN ('3f2a...', '9c1b...')      version_number >= 3
    (current_stage = 'Production' or tags.candidate = 'yes') and creation_timestamp > 0

Attributes of model versions: ``name``, ``version_number``, ``run_id``,
``source_path``, ``current_stage``, ``creation_timestamp``,
``last_updated_timestamp``; of registered models: ``name``,
``creation_timestamp``, ``last_updated_timestamp``. ``tags.<key>`` on both.
Strings take ``= != LIKE ILIKE IN NOT IN``; numbers ``= != < <= > >=``; tags
``= != LIKE ILIKE IS NULL IS NOT NULL``. The tokenizer is the run search's, so
errors point at the offending token the same way.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from nbtrack.store._search_tokens import TokenStream

_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
_TAG_OPS = ("=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_TAG_ENTITIES = frozenset({"tags", "tag"})


@dataclass(frozen=True)
class Target:
    """What a filter searches: attribute columns, and how to test a tag."""

    what: str
    strings: dict[str, sa.ColumnElement[Any]]
    numbers: dict[str, sa.ColumnElement[Any]]
    tag: Callable[[str, Callable[[sa.ColumnElement[Any]], Any] | None], sa.ColumnElement[bool]]


def compile_filter(target: Target, text: str | None) -> sa.ColumnElement[bool] | None:
    """The filter as a boolean SQL expression (None for a blank filter)."""
    if text is None or not text.strip():
        return None
    parser = _Parser(target, text)
    node = parser.parse_or(0)
    token = parser.peek()
    if token.kind != "EOF":
        raise parser.error(f"expected AND, OR or end of filter, found {parser.show(token)}", token)
    return node


class _Parser(TokenStream):
    def __init__(self, target: Target, text: str) -> None:
        super().__init__(text)
        self.target = target

    def parse_or(self, depth: int) -> sa.ColumnElement[bool]:
        items = [self.parse_and(depth)]
        while self.peek().word() == "OR":
            self.advance()
            items.append(self.parse_and(depth))
        return items[0] if len(items) == 1 else sa.or_(*items)

    def parse_and(self, depth: int) -> sa.ColumnElement[bool]:
        items = [self.parse_primary(depth)]
        while self.peek().word() == "AND":
            self.advance()
            items.append(self.parse_primary(depth))
        return items[0] if len(items) == 1 else sa.and_(*items)

    def parse_primary(self, depth: int) -> sa.ColumnElement[bool]:
        token = self.peek()
        if token.kind != "LPAREN":
            return self.parse_comparison()
        if depth > 50:
            raise self.error("parentheses nested more than 50 deep", token)
        self.advance()
        node = self.parse_or(depth + 1)
        close = self.advance()
        if close.kind != "RPAREN":
            raise self.error(f"expected ')' to close this '(', found {self.show(close)}", token)
        return node

    def parse_comparison(self) -> sa.ColumnElement[bool]:
        token = self.advance()
        target = self.target
        if token.kind == "IDENT" and token.text.lower() in _TAG_ENTITIES:
            return self.tag_comparison(token.key)
        name = (
            token.key
            if token.kind == "IDENT"
            and token.text.lower()
            in (
                "attributes",
                "attribute",
            )
            else token.text
        )
        if token.kind not in ("IDENT", "WORD") or (
            name not in target.strings and name not in target.numbers
        ):
            valid = ", ".join(sorted([*target.strings, *target.numbers]))
            raise self.error(
                f"expected an attribute of {target.what} ({valid}) or tags.<key>, "
                f"found {self.show(token)}",
                token,
            )
        op = self.parse_operator()
        if name in target.numbers:
            column = target.numbers[name]
            self.check_op(op, _NUMBER_OPS, name)
            value = self.advance()
            if value.kind != "NUMBER":
                raise self.error(f"{name} is a number: write {name} {op} 3", value)
            return _COMPARE[op](column, int(float(value.text)))  # type: ignore[no-any-return]
        column = target.strings[name]
        self.check_op(op, _STRING_OPS, name)
        if op in ("IN", "NOT IN"):
            values = self.parse_list(op)
            return column.in_(values) if op == "IN" else column.not_in(values)
        return _string_test(column, op, self.string_value(name, op))

    def tag_comparison(self, key: str) -> sa.ColumnElement[bool]:
        op = self.parse_operator()
        self.check_op(op, _TAG_OPS, f"tags.{key}")
        if op == "IS NULL":
            return sa.not_(self.target.tag(key, None))
        if op == "IS NOT NULL":
            return self.target.tag(key, None)
        value = self.string_value(f"tags.{key}", op)
        return self.target.tag(key, lambda column: _string_test(column, op, value))

    def parse_operator(self) -> str:
        token = self.advance()
        if token.kind == "OP":
            return {"==": "=", "<>": "!="}.get(token.text, token.text)
        word = token.word()
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        if word == "NOT" and self.peek().word() == "IN":
            self.advance()
            return "NOT IN"
        if word == "IS":
            negated = self.peek().word() == "NOT"
            if negated:
                self.advance()
            if self.advance().word() == "NULL":
                return "IS NOT NULL" if negated else "IS NULL"
        raise self.error(f"expected an operator, found {self.show(token)}", token)

    def check_op(self, op: str, allowed: tuple[str, ...], name: str) -> None:
        if op not in allowed:
            token = self.tokens[self.i - 1]
            raise self.error(f"{op} is not allowed on {name}; use {', '.join(allowed)}", token)

    def string_value(self, name: str, op: str) -> str:
        token = self.advance()
        if token.kind != "STRING":
            raise self.error(f"{name} is a string: write {name} {op} 'value'", token)
        return token.text

    def parse_list(self, op: str) -> list[str]:
        open_token = self.advance()
        if open_token.kind != "LPAREN":
            raise self.error(f"expected '(' after {op}, e.g. {op} ('a', 'b')", open_token)
        values = []
        while True:
            token = self.advance()
            if token.kind != "STRING":
                raise self.error(f"expected a quoted string in the {op} list", token)
            values.append(token.text)
            sep = self.advance()
            if sep.kind == "RPAREN":
                return values
            if sep.kind != "COMMA":
                raise self.error(f"expected ',' or ')' in the {op} list", sep)


def _string_test(column: sa.ColumnElement[Any], op: str, value: str) -> sa.ColumnElement[bool]:
    if op == "LIKE":
        return column.like(value)
    if op == "ILIKE":
        return column.ilike(value)
    return _COMPARE[op](column, value)  # type: ignore[no-any-return]
