"""Sweep combinations: a grid, random samples from distributions, or both.

``--grid lr=0.1,0.01`` lists values (commas inside brackets or quotes do not
split: ``--grid "layers=[1,2],[3,4]"``). ``--space "lr=loguniform(1e-4,1e-1)"``
gives a distribution: ``uniform(a, b)``, ``loguniform(a, b)`` (log-uniform,
``0 < a < b``), ``int(a, b)`` (an integer in ``[a, b]``) or ``choice(x, y, ...)``.
With ``--random N`` each grid combination is paired with N random samples
(seeded: the same seed gives the same combinations).
"""

from __future__ import annotations

import ast
import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nbtrack.exceptions import InvalidInputError

KINDS = ("uniform", "loguniform", "int", "choice")


@dataclass(frozen=True, slots=True)
class Distribution:
    """A distribution to sample a parameter from (see the module docstring)."""

    kind: str
    args: tuple[Any, ...]

    def __post_init__(self) -> None:
        what = f"{self.kind}{self.args}"
        if self.kind not in KINDS:
            raise InvalidInputError(f"unknown distribution {self.kind!r}; use one of {KINDS}")
        if self.kind == "choice":
            if not self.args:
                raise InvalidInputError("choice() needs at least one value")
            return
        if len(self.args) != 2 or not all(_is_number(a) for a in self.args):
            raise InvalidInputError(f"{what}: {self.kind} takes two numbers, low and high")
        low, high = self.args
        if low > high:
            raise InvalidInputError(f"{what}: low is above high")
        if self.kind == "loguniform" and low <= 0:
            raise InvalidInputError(f"{what}: loguniform needs 0 < low")
        if self.kind == "int" and not all(isinstance(a, int) for a in self.args):
            raise InvalidInputError(f"{what}: int takes two integers")

    def sample(self, rng: random.Random) -> Any:
        """One value drawn with ``rng``."""
        if self.kind == "choice":
            return rng.choice(self.args)
        low, high = self.args
        if self.kind == "int":
            return rng.randint(low, high)
        if self.kind == "loguniform":
            return math.exp(rng.uniform(math.log(low), math.log(high)))
        return rng.uniform(float(low), float(high))

    def __str__(self) -> str:
        return f"{self.kind}({', '.join(repr(a) for a in self.args)})"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def split_values(text: str) -> list[str]:
    """``"a,[1,2],'x,y'"`` as ``["a", "[1,2]", "'x,y'"]``: top-level commas only."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``["lr=0.1,0.01", "batch=32,64"]`` as ``{"lr": ["0.1", "0.01"], ...}`` (text values)."""
    grid: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise InvalidInputError(f"expected --grid NAME=V1,V2,..., got {item!r}")
        if name in grid:
            raise InvalidInputError(f"--grid {name} is given twice; list all values in one")
        grid[name] = split_values(values)
    return grid


def parse_distribution(text: str) -> Distribution:
    """``"loguniform(1e-4, 1e-1)"`` as a :class:`Distribution`; bare words are strings."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        node = None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.keywords:
        raise InvalidInputError(
            f"{text!r} is not a distribution; use uniform(a,b), loguniform(a,b), int(a,b) "
            "or choice(x,y,...)"
        )
    args = []
    for arg in node.args:
        if isinstance(arg, ast.Name):  # choice(adam, sgd): bare words are strings
            args.append(arg.id)
            continue
        try:
            args.append(ast.literal_eval(arg))
        except ValueError:
            raise InvalidInputError(
                f"{text!r}: {ast.unparse(arg)!r} is not a literal value"
            ) from None
    return Distribution(node.func.id, tuple(args))


def parse_space(items: Sequence[str]) -> dict[str, Distribution]:
    """``["lr=loguniform(1e-4,1e-1)"]`` as ``{"lr": Distribution(...)}``."""
    space: dict[str, Distribution] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInputError(f"expected --space NAME=DIST(...), got {item!r}")
        space[name.strip()] = parse_distribution(text)
    return space


def combinations(
    grid: Mapping[str, Sequence[Any]] | None = None,
    space: Mapping[str, Distribution | str] | None = None,
    n_random: int = 0,
    seed: int | None = None,
) -> list[dict[str, Any]]:
    """Every grid combination, each paired with ``n_random`` samples from ``space``."""
    grid = dict(grid or {})
    dists = {
        k: parse_distribution(v) if isinstance(v, str) else v for k, v in (space or {}).items()
    }
    if n_random < 0:
        raise InvalidInputError(f"--random must be >= 0, not {n_random}")
    if dists and not n_random:
        raise InvalidInputError("--space needs --random N: how many samples to draw")
    if n_random and not dists:
        raise InvalidInputError("--random needs at least one --space NAME=DIST(...)")
    both = set(grid) & set(dists)
    if both:
        raise InvalidInputError(f"{', '.join(sorted(both))} is in both --grid and --space")
    for name, values in grid.items():
        if isinstance(values, str) or not len(values):
            raise InvalidInputError(f"grid values of {name!r} must be a non-empty list")
    if not grid and not dists:
        raise InvalidInputError("nothing to sweep: give --grid NAME=V1,V2 and/or --random/--space")
    rng = random.Random(seed)  # noqa: S311 (sampling parameters, not secrets)
    names = list(grid)
    out: list[dict[str, Any]] = []
    for values in itertools.product(*(grid[n] for n in names)):
        base = dict(zip(names, values, strict=True))
        if not dists:
            out.append(base)
            continue
        for _ in range(n_random):
            out.append({**base, **{k: d.sample(rng) for k, d in dists.items()}})
    return out
