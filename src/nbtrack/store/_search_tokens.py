"""Tokenizer for the run-search filter grammar (see :mod:`nbtrack.store.search`).

The filter text is split into :class:`Token` objects that remember their
0-based offset, so every parse error can point at the offending token.

Token kinds:

* ``IDENT``: ``<entity>.<key>``. The key is everything after the first dot up
  to whitespace, an operator, a parenthesis, a comma or a quote, or a key
  quoted with backticks or double quotes (``metrics.`val loss```,
  ``params."batch size"``). ``text`` is the entity word, ``key`` the key.
* ``WORD``: a bare word: a keyword (``AND``, ``OR``, ``IN``, ``NOT``, ``IS``,
  ``NULL``, ``LIKE``, ``ILIKE``, ``ASC``, ``DESC``) or a bare attribute name.
* ``STRING``: a ``'...'`` or ``"..."`` literal; a doubled quote inside it
  stands for one quote (``'it''s'``). ``text`` is the unquoted value.
* ``NUMBER``: a decimal literal such as ``-1``, ``0.5`` or ``1e-3``.
* ``OP``: ``=``, ``==``, ``!=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``.
* ``LPAREN``, ``RPAREN``, ``COMMA`` and a final ``EOF``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nbtrack.exceptions import FilterSyntaxError

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATORS = ("==", "!=", "<>", "<=", ">=", "=", "<", ">")
# Characters that end an unquoted key (besides whitespace).
_KEY_STOP = frozenset("=!<>(),'\"`")
_SIMPLE_KEY = re.compile(r"[^\s=!<>(),'\"`]+")
_PUNCTUATION = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA"}


@dataclass(frozen=True)
class Token:
    """One token of a filter: its kind, value, and where it sits in the text."""

    kind: str
    text: str
    pos: int
    end: int
    key: str = ""
    key_pos: int = 0

    def word(self) -> str:
        """The upper-cased text of a ``WORD`` token, "" for other kinds."""
        return self.text.upper() if self.kind == "WORD" else ""


def describe(token: Token, source: str) -> str:
    """How an error message names a token: its source text, or "end of filter"."""
    if token.kind == "EOF":
        return "end of filter"
    return repr(source[token.pos : token.end])


def display_ident(entity: str, key: str) -> str:
    """How hints spell ``<entity>.<key>``, quoting the key with backticks if needed."""
    prefix = {"metric": "metrics", "param": "params", "tag": "tags"}.get(entity, "attributes")
    shown = key if _SIMPLE_KEY.fullmatch(key) else "`" + key.replace("`", "``") + "`"
    return f"{prefix}.{shown}"


def quote_string(text: str) -> str:
    """``text`` as a single-quoted string literal of the grammar."""
    return "'" + text.replace("'", "''") + "'"


def is_number(text: str) -> bool:
    """Whether ``text`` (spaces aside) is a number literal of the grammar."""
    return _NUMBER.fullmatch(text.strip()) is not None


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens, ending with an ``EOF`` token.

    Raises :class:`FilterSyntaxError` for an unterminated string or quoted
    key, a malformed number, or a character that starts no token.
    """
    tokens: list[Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _PUNCTUATION:
            tokens.append(Token(_PUNCTUATION[ch], ch, i, i + 1))
            i += 1
            continue
        if ch in "'\"":
            value, end = _read_quoted(source, i, "string")
            tokens.append(Token("STRING", value, i, end))
            i = end
            continue
        op = next((o for o in _OPERATORS if source.startswith(o, i)), None)
        if op is not None:
            tokens.append(Token("OP", op, i, i + len(op)))
            i += len(op)
            continue
        number = _NUMBER.match(source, i)
        if number is not None and (ch.isdigit() or ch in "+-."):
            end = number.end()
            if end < n and (source[end].isalnum() or source[end] in "_."):
                raise FilterSyntaxError(
                    f"invalid number {source[i : _word_end(source, end)]!r}", source, i
                )
            tokens.append(Token("NUMBER", number.group(), i, end))
            i = end
            continue
        word = _WORD.match(source, i)
        if word is not None:
            tokens.append(_read_word(source, i, word.end()))
            i = tokens[-1].end
            continue
        raise FilterSyntaxError(_unexpected_character(source, i), source, i)
    tokens.append(Token("EOF", "", n, n))
    return tokens


def _read_word(source: str, start: int, end: int) -> Token:
    """A bare ``WORD``, or an ``IDENT`` when the word is followed by a dot."""
    if end >= len(source) or source[end] != ".":
        return Token("WORD", source[start:end], start, end)
    entity = source[start:end]
    key_pos = end + 1
    if key_pos < len(source) and source[key_pos] in '`"':
        kind = "key quoted with backticks" if source[key_pos] == "`" else "quoted key"
        key, key_end = _read_quoted(source, key_pos, kind)
        if not key:
            raise FilterSyntaxError(f"empty key after '{entity}.'", source, key_pos)
        return Token("IDENT", entity, start, key_end, key, key_pos)
    key_end = key_pos
    while key_end < len(source) and not (source[key_end].isspace() or source[key_end] in _KEY_STOP):
        key_end += 1
    if key_end == key_pos:
        raise FilterSyntaxError(
            f"missing key after '{entity}.'; write e.g. {entity}.name or "
            f"{entity}.`name with spaces`",
            source,
            key_pos,
        )
    return Token("IDENT", entity, start, key_end, source[key_pos:key_end], key_pos)


def _read_quoted(source: str, start: int, what: str) -> tuple[str, int]:
    """The value of the quoted text at ``start`` and the offset just past it."""
    quote = source[start]
    parts: list[str] = []
    i = start + 1
    while True:
        close = source.find(quote, i)
        if close < 0:
            raise FilterSyntaxError(
                f"unterminated {what}: no closing {quote} for the one opened here",
                source,
                start,
            )
        parts.append(source[i:close])
        if source.startswith(quote * 2, close):
            parts.append(quote)
            i = close + 2
            continue
        return "".join(parts), close + 1


def _word_end(source: str, i: int) -> int:
    while i < len(source) and (source[i].isalnum() or source[i] in "_."):
        i += 1
    return i


def _unexpected_character(source: str, i: int) -> str:
    ch = source[i]
    if ch == "!":
        return "unexpected character '!'; did you mean '!='?"
    if ch == "`":
        return (
            "unexpected backtick: backticks quote a key after its entity, e.g. metrics.`val loss`"
        )
    return f"unexpected character {ch!r}"


class TokenStream:
    """A filter's tokens with a cursor: the base of the run and registry parsers."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        """The next token, not consumed."""
        return self.tokens[self.i]

    def advance(self) -> Token:
        """Consume and return the next token (EOF stays)."""
        token = self.tokens[self.i]
        if token.kind != "EOF":
            self.i += 1
        return token

    def show(self, token: Token) -> str:
        """How a token reads in an error message."""
        return describe(token, self.text)

    def error(self, message: str, token: Token) -> FilterSyntaxError:
        """A syntax error pointing at ``token``."""
        return FilterSyntaxError(message, self.text, token.pos)
