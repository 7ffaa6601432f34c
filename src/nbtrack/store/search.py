"""The run-search filter grammar, parsed to an AST and compiled to SQLAlchemy Core.

The grammar is MLflow's, plus ``OR`` and parentheses::

    filter     := or_expr
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := primary ("AND" primary)*
    primary    := "(" or_expr ")" | comparison
    comparison := <entity>.<key> <op> <value> | <attribute> <op> <value>

Entities are ``metrics``, ``params``, ``tags`` and ``attributes`` (and their
aliases, see :data:`ENTITY_ALIASES`); a bare attribute name such as ``status``
needs no entity. Keywords, entity and attribute names are case-insensitive;
keys and values are not. Rules per entity:

* metrics: a number; ``= != < <= > >=``, or ``IS [NOT] NULL`` (whether the
  metric was logged at all). Compared with the latest value; a run without
  the metric, or whose latest value is NaN (stored as NULL), never matches.
* params, tags, string attributes: a quoted string; ``= != LIKE ILIKE``,
  ``IN (...)``, ``NOT IN (...)``, ``IS [NOT] NULL``. ``LIKE`` is
  case-sensitive, ``ILIKE`` is not. A run without the param/tag matches only
  ``IS NULL``.
* ``start_time`` (alias ``created``), ``end_time``: a number of milliseconds;
  ``= != < <= > >=``, ``IS [NOT] NULL``.
* ``experiment_id``: an integer, quoted or not; ``= != IN NOT IN``.

:func:`parse_filter` returns the AST (:class:`Comparison`, :class:`And`,
:class:`Or`) so that other backends can compile it; :func:`compile_filter`
compiles it to a boolean expression over :data:`schema.runs` made only of
Core constructs and bound parameters. :func:`compile_order_by` does the same
for ``order_by`` items. Every problem raises
:class:`~nbtrack.exceptions.FilterSyntaxError` pointing at the offending token.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import sqlalchemy as sa

from nbtrack.exceptions import FilterSyntaxError
from nbtrack.store import schema
from nbtrack.store._search_tokens import (
    Token,
    TokenStream,
    describe,
    display_ident,
    is_number,
    quote_string,
)

__all__ = [
    "ATTRIBUTES",
    "ENTITY_ALIASES",
    "And",
    "Comparison",
    "Node",
    "Or",
    "OrderKey",
    "compile_filter",
    "compile_order_by",
    "parse_filter",
    "parse_order_by",
    "quote_string",
]

#: Entity words (lower case) and the entity each one names.
ENTITY_ALIASES: dict[str, str] = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "parameter": "param",
    "parameters": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}

#: Attribute names, with the ``runs`` column each one reads.
ATTRIBUTES: dict[str, sa.Column[Any]] = {
    "run_id": schema.runs.c.run_id,
    "run_name": schema.runs.c.name,
    "status": schema.runs.c.status,
    "start_time": schema.runs.c.start_time,
    "end_time": schema.runs.c.end_time,
    "experiment_id": schema.runs.c.experiment_id,
    "user_id": schema.runs.c.user_id,
    "created": schema.runs.c.start_time,
}
_ATTRIBUTE_CANONICAL = {"created": "start_time"}
_NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time"})

_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=", "IS NULL", "IS NOT NULL")
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL")
_ID_OPS = ("=", "!=", "IN", "NOT IN")
_OP_ALIASES = {"==": "=", "<>": "!="}
_COMPARE = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le}
_COMPARE.update({">": operator.gt, ">=": operator.ge})
_MAX_DEPTH = 100
# Bounds that keep a query within what every backend executes (SQLite refuses an
# expression tree over 1,000 deep, about 1,000 comparisons, and ORDER BY over 2,000
# terms), so an oversized filter is a FilterSyntaxError, never a database error.
MAX_CONDITIONS = 200
MAX_LIST_VALUES = 1000
MAX_ORDER_KEYS = 20
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INTEGER = re.compile(r"\s*[+-]?\d+\s*")

Value: TypeAlias = str | int | float | tuple[str, ...] | tuple[int, ...] | None


@dataclass(frozen=True)
class Comparison:
    """One ``<entity>.<key> <op> <value>`` test.

    ``entity`` is ``"metric"``, ``"param"``, ``"tag"`` or ``"attribute"``; for
    attributes ``key`` is the canonical name (``created`` becomes
    ``start_time``). ``op`` is one of ``= != < <= > >= LIKE ILIKE IN``,
    ``NOT IN``, ``IS NULL``, ``IS NOT NULL``. ``value`` is a float for metrics,
    an int or float for times, an int for ``experiment_id``, a str for
    strings, a tuple for ``IN``/``NOT IN`` and None for ``IS [NOT] NULL``.
    ``position`` is where the comparison starts in the filter text.
    """

    entity: str
    key: str
    op: str
    value: Value
    position: int


@dataclass(frozen=True)
class And:
    """All of ``items`` hold (at least two)."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """At least one of ``items`` holds (at least two)."""

    items: tuple[Node, ...]


Node: TypeAlias = Comparison | And | Or


@dataclass(frozen=True)
class OrderKey:
    """One parsed ``order_by`` item: what to sort by, and in which direction."""

    entity: str
    key: str
    descending: bool


# --------------------------------------------------------------------- parsing


class _Parser(TokenStream):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.conditions = 0
        self.values = 0

    def expect_end(self, what: str) -> None:
        token = self.peek()
        if token.kind == "RPAREN":
            raise self.error("unbalanced parentheses: ')' has no matching '('", token)
        if token.kind != "EOF":
            raise self.error(f"expected {what}, found {describe(token, self.text)}", token)

    # filter := or_expr
    def parse_or(self, depth: int) -> Node:
        items = [self.parse_and(depth)]
        while self.peek().word() == "OR":
            self.advance()
            items.append(self.parse_and(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self, depth: int) -> Node:
        items = [self.parse_primary(depth)]
        while self.peek().word() == "AND":
            self.advance()
            items.append(self.parse_primary(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_primary(self, depth: int) -> Node:
        token = self.peek()
        if token.kind != "LPAREN":
            return self.parse_comparison()
        if depth >= _MAX_DEPTH:
            raise self.error(f"parentheses nested more than {_MAX_DEPTH} deep", token)
        self.advance()
        node = self.parse_or(depth + 1)
        close = self.peek()
        if close.kind == "EOF":
            raise self.error("unbalanced parentheses: this '(' is never closed", token)
        if close.kind != "RPAREN":
            found = describe(close, self.text)
            raise self.error(f"expected AND, OR or ')', found {found}", close)
        self.advance()
        return node

    def parse_comparison(self) -> Comparison:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise self.error(
                f"a filter holds at most {MAX_CONDITIONS} conditions; this is one more. "
                "Use IN ('a', 'b', ...) for many values of one key, or search in steps",
                self.peek(),
            )
        entity, key = self.parse_identifier(
            "a comparison such as metrics.acc > 0.5 or params.lr = '0.01'"
        )
        start = self.tokens[self.i - 1]
        op_token = self.peek()
        op = self.parse_operator(entity, key)
        allowed = _allowed_ops(entity, key)
        if op not in allowed:
            raise self.error(_bad_operator(entity, key, op, allowed), op_token)
        if op in ("IS NULL", "IS NOT NULL"):
            return Comparison(entity, key, op, None, start.pos)
        if op in ("IN", "NOT IN"):
            value = self.parse_list(entity, key, op)
        else:
            value = self.parse_scalar(entity, key, op, self.advance())
        return Comparison(entity, key, op, value, start.pos)

    def parse_identifier(self, expected: str) -> tuple[str, str]:
        token = self.advance()
        if token.kind == "IDENT":
            entity = ENTITY_ALIASES.get(token.text.lower())
            if entity is None:
                raise self.error(
                    f"unknown entity {token.text!r}; use metrics., params., tags. or "
                    "attributes. (or a bare attribute name such as status)",
                    token,
                )
            if entity != "attribute":
                return entity, token.key
            return entity, self.attribute_name(token.key, token.key_pos)
        if token.kind == "WORD" and token.word() not in _KEYWORDS:
            return "attribute", self.attribute_name(token.text, token.pos)
        raise self.error(f"expected {expected}, found {describe(token, self.text)}", token)

    def attribute_name(self, name: str, pos: int) -> str:
        lowered = name.lower()
        if lowered not in ATTRIBUTES:
            valid = ", ".join(sorted(ATTRIBUTES))
            hint = (
                "; a run's parent is the tag: tags.mlflow.parentRunId = '<run id>'"
                if lowered in ("parent_run_id", "parentrunid")
                else ""
            )
            raise FilterSyntaxError(
                f"unknown attribute {name!r}; valid attributes are: {valid} "
                f"(write metrics.<key>, params.<key> or tags.<key> for the others){hint}",
                self.text,
                pos,
            )
        return _ATTRIBUTE_CANONICAL.get(lowered, lowered)

    def parse_operator(self, entity: str, key: str) -> str:
        token = self.advance()
        if token.kind == "OP":
            return _OP_ALIASES.get(token.text, token.text)
        word = token.word()
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        if word == "NOT":
            if self.peek().word() != "IN":
                raise self.error("expected IN after NOT", self.peek())
            self.advance()
            return "NOT IN"
        if word == "IS":
            negated = self.peek().word() == "NOT"
            if negated:
                self.advance()
            null = self.advance()
            if null.word() == "NULL":
                return "IS NOT NULL" if negated else "IS NULL"
            expected = "NULL after IS NOT" if negated else "NULL or NOT NULL after IS"
            raise self.error(f"expected {expected}, found {describe(null, self.text)}", null)
        ops = ", ".join(_allowed_ops(entity, key))
        found = describe(token, self.text)
        raise self.error(
            f"expected an operator after {display_ident(entity, key)} ({ops}), found {found}", token
        )

    def parse_list(self, entity: str, key: str, op: str) -> tuple[Any, ...]:
        open_token = self.advance()
        if open_token.kind != "LPAREN":
            found = describe(open_token, self.text)
            raise self.error(
                f"expected '(' after {op}, e.g. {op} ('a', 'b'), found {found}", open_token
            )
        tokens: list[Token] = []
        while True:
            token = self.advance()
            if token.kind == "RPAREN" and not tokens:
                raise self.error(f"empty list after {op}; give at least one value", token)
            if token.kind == "EOF":
                raise self.error("unbalanced parentheses: this '(' is never closed", open_token)
            tokens.append(token)
            self.values += 1
            if self.values > MAX_LIST_VALUES:
                raise self.error(
                    f"a filter's IN lists hold at most {MAX_LIST_VALUES} values in all", token
                )
            sep = self.advance()
            if sep.kind == "RPAREN":
                break
            if sep.kind != "COMMA":
                found = describe(sep, self.text)
                raise self.error(f"expected ',' or ')' in the {op} list, found {found}", sep)
        if entity != "attribute" or key != "experiment_id":
            for token in tokens:
                if token.kind == "NUMBER":
                    quoted = ", ".join(quote_string(t.text) for t in tokens)
                    raise self.error(
                        f"{_noun(entity, key)}: write {display_ident(entity, key)} {op} ({quoted})",
                        token,
                    )
        return tuple(self.parse_scalar(entity, key, op, t) for t in tokens)

    def parse_scalar(self, entity: str, key: str, op: str, token: Token) -> Any:
        name = display_ident(entity, key)
        if token.kind not in ("STRING", "NUMBER"):
            hint = ""
            if token.word() == "NULL":
                hint = f"; write {name} IS NULL or {name} IS NOT NULL"
            found = describe(token, self.text)
            raise self.error(f"missing value after {op!r}: found {found}{hint}", token)
        if entity == "attribute" and key == "experiment_id":
            if not _INTEGER.fullmatch(token.text):
                raise self.error(f"experiment_id must be an integer, found {token.text!r}", token)
            return self.int64(name, token)
        if entity == "metric" or (entity == "attribute" and key in _NUMERIC_ATTRIBUTES):
            if token.kind == "STRING":
                noun = "metrics are numbers" if entity == "metric" else f"{key} is a number"
                default = "0.5" if entity == "metric" else "1700000000000"
                example = token.text.strip() if is_number(token.text) else default
                raise self.error(f"{noun}: write {name} {op} {example}", token)
            if entity == "metric":
                return float(token.text)
            return self.int64(name, token) if _INTEGER.fullmatch(token.text) else float(token.text)
        if token.kind == "NUMBER":
            raise self.error(
                f"{_noun(entity, key)}: write {name} {op} {quote_string(token.text)}", token
            )
        return token.text

    def int64(self, name: str, token: Token) -> int:
        """An integer value, which must fit the database's 64-bit integers."""
        if len(token.text.strip()) > 25 or not _INT64_MIN <= int(token.text) <= _INT64_MAX:
            raise self.error(f"{name} is compared with a number beyond 64-bit integers", token)
        return int(token.text)


_KEYWORDS = frozenset({"AND", "OR", "IN", "NOT", "IS", "NULL", "LIKE", "ILIKE", "ASC", "DESC"})


def _allowed_ops(entity: str, key: str) -> tuple[str, ...]:
    if entity == "metric" or (entity == "attribute" and key in _NUMERIC_ATTRIBUTES):
        return _NUMERIC_OPS
    if entity == "attribute" and key == "experiment_id":
        return _ID_OPS
    return _STRING_OPS


def _bad_operator(entity: str, key: str, op: str, allowed: tuple[str, ...]) -> str:
    ops = ", ".join(allowed)
    if entity == "metric":
        return f"{op} is not allowed on metrics, which are numbers; use {ops}"
    if entity in ("param", "tag"):
        return f"{op} is not allowed on {entity}s, which are strings; use {ops}"
    return f"{op} is not allowed on attribute {key}; use {ops}"


def _noun(entity: str, key: str) -> str:
    return f"{entity}s are strings" if entity in ("param", "tag") else f"{key} is a string"


def parse_filter(text: str) -> Node:
    """Parse a filter string into its AST; raise FilterSyntaxError if it is invalid.

    ``AND`` binds tighter than ``OR``; a blank filter is an error here (use
    :func:`compile_filter`, which maps it to None).
    """
    parser = _Parser(text)
    if parser.peek().kind == "EOF":
        raise FilterSyntaxError("empty filter", text, 0)
    node = parser.parse_or(0)
    parser.expect_end("AND, OR or end of filter")
    return node


def parse_order_by(item: str) -> OrderKey:
    """Parse one ``order_by`` item, ``<entity>.<key> [ASC|DESC]`` (ASC by default)."""
    parser = _Parser(item)
    entity, key = parser.parse_identifier(
        "a sort key such as metrics.acc DESC or attributes.start_time"
    )
    descending = False
    if parser.peek().word() in ("ASC", "DESC"):
        descending = parser.advance().word() == "DESC"
    parser.expect_end("ASC, DESC or end of order_by item")
    return OrderKey(entity, key, descending)


# ------------------------------------------------------------------- compiling


def compile_filter(filter_string: str | None) -> sa.ColumnElement[bool] | None:
    """Compile a filter to a boolean expression over ``schema.runs``, or None if blank.

    Use it as ``select(schema.runs).where(expr)``: metrics, params and tags
    become correlated ``EXISTS`` subqueries; values are bound parameters.
    """
    if filter_string is None or not filter_string.strip():
        return None
    return _compile_node(parse_filter(filter_string))


def _compile_node(node: Node) -> sa.ColumnElement[bool]:
    if isinstance(node, And):
        return sa.and_(*(_compile_node(item) for item in node.items))
    if isinstance(node, Or):
        return sa.or_(*(_compile_node(item) for item in node.items))
    return _compile_comparison(node)


def _compile_comparison(node: Comparison) -> sa.ColumnElement[bool]:
    runs = schema.runs
    if node.entity == "attribute":
        return _apply(ATTRIBUTES[node.key], node.op, node.value)
    if node.entity == "metric":
        lm, mk = schema.latest_metrics, schema.metric_keys
        rows = (
            sa.select(lm.c.run_pk)
            .join(mk, mk.c.key_id == lm.c.key_id)
            .where(lm.c.run_pk == runs.c.run_pk, mk.c.key == node.key)
        )
        value_column: sa.ColumnElement[Any] = lm.c.value
    elif node.entity == "tag" and node.key in _DERIVED_TAGS:
        # mlflow.runName / mlflow.parentRunId mirror the run's own columns (see _records).
        return _apply(_derived_tag_column(node.key), node.op, node.value)
    else:
        table = schema.params if node.entity == "param" else schema.tags
        rows = sa.select(table.c.run_pk).where(
            table.c.run_pk == runs.c.run_pk, table.c.key == node.key
        )
        value_column = table.c.value
    if node.op == "IS NULL":
        return ~rows.exists()
    if node.op == "IS NOT NULL":
        return rows.exists()
    return rows.where(_apply(value_column, node.op, node.value)).exists()


_DERIVED_TAGS = frozenset({"mlflow.runName", "mlflow.parentRunId"})


def _derived_tag_column(key: str) -> sa.ColumnElement[Any]:
    runs = schema.runs
    if key == "mlflow.runName":
        return runs.c.name
    parent = runs.alias("parent")
    return (
        sa.select(parent.c.run_id).where(parent.c.run_pk == runs.c.parent_run_pk).scalar_subquery()
    )


def _apply(column: sa.ColumnElement[Any], op: str, value: Value) -> sa.ColumnElement[bool]:
    if op == "IS NULL":
        return column.is_(None)
    if op == "IS NOT NULL":
        return column.is_not(None)
    if op in ("IN", "NOT IN"):
        assert isinstance(value, tuple)
        return column.in_(value) if op == "IN" else column.not_in(value)
    if op == "LIKE":
        return column.like(value)
    if op == "ILIKE":
        return column.ilike(value)
    compare: Callable[[Any, Any], sa.ColumnElement[bool]] = _COMPARE[op]
    return compare(column, value)


def compile_order_by(order_by: Sequence[str] | None) -> list[sa.ColumnElement[Any]]:
    """Compile ``order_by`` items (``"metrics.acc DESC"``, ``"params.lr"``, ...).

    Metrics sort by their latest value, params and tags by their string value;
    runs lacking the key (or whose latest metric value is NaN) sort last in
    both directions. The list always ends with the tie-breakers
    ``start_time DESC, run_pk DESC``.
    """
    if isinstance(order_by, str):
        order_by = [order_by]
    if order_by and len(order_by) > MAX_ORDER_KEYS:
        raise FilterSyntaxError(
            f"order_by takes at most {MAX_ORDER_KEYS} keys, not {len(order_by)}", order_by[0], 0
        )
    clauses: list[sa.ColumnElement[Any]] = []
    for item in order_by or ():
        if not item.strip():
            raise FilterSyntaxError("empty order_by item", item, 0)
        key = parse_order_by(item)
        sort_value = _sort_value(key)
        ordered = sort_value.desc() if key.descending else sort_value.asc()
        clauses.append(ordered.nulls_last())
    clauses += [schema.runs.c.start_time.desc(), schema.runs.c.run_pk.desc()]
    return clauses


def _sort_value(key: OrderKey) -> sa.ColumnElement[Any]:
    runs = schema.runs
    if key.entity == "attribute":
        return ATTRIBUTES[key.key]
    if key.entity == "metric":
        lm, mk = schema.latest_metrics, schema.metric_keys
        return (
            sa.select(lm.c.value)
            .join(mk, mk.c.key_id == lm.c.key_id)
            .where(lm.c.run_pk == runs.c.run_pk, mk.c.key == key.key)
            .scalar_subquery()
        )
    if key.entity == "tag" and key.key in _DERIVED_TAGS:
        return _derived_tag_column(key.key)
    table = schema.params if key.entity == "param" else schema.tags
    return (
        sa.select(table.c.value)
        .where(table.c.run_pk == runs.c.run_pk, table.c.key == key.key)
        .scalar_subquery()
    )
