"""What ``%%track params`` takes from a cell: assigned names, by parsing, and simple values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nbtrack.notebook._params_cell import (
    MAX_CONTAINER_JSON,
    NotSimpleError,
    assigned_names,
    collect,
    param_text,
)

# -- assigned_names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("lr = 0.1", ["lr"]),
        ("a, b = 1, 2", ["a", "b"]),
        ("(a, [b, c]) = 1, (2, 3)", ["a", "b", "c"]),
        ("x = y = 3", ["x", "y"]),
        ("epochs: int = 10", ["epochs"]),
        ("epochs: int", []),  # annotation only: nothing assigned
        ("lr = 1\nlr = 2\nbatch = 3\nlr = 4", ["lr", "batch"]),  # first place, no repeats
        ("_seed = 1\n__dunder = 2\nkept = 3", ["kept"]),
        ("_a, b = 1, 2", ["b"]),
        ("cfg.lr = 0.1\ncfg['lr'] = 0.2\nitems[0] = 1", []),
        ("n = 0\nn += 1", ["n"]),  # augmented assignment is not a new value
        ("for i in range(3):\n    total = i", []),
        ("if True:\n    inside_if = 1\nelse:\n    inside_else = 2", []),
        ("def f():\n    inside = 1\n    return inside", []),
        ("class C:\n    attr = 1", []),
        ("with open('f') as handle:\n    inside_with = 1", []),
        ("try:\n    inside_try = 1\nexcept Exception:\n    pass", []),
        ("import math\nfrom os import path", []),
        ("(n := 5)", []),
        ("print('no assignment')", []),
        ("", []),
    ],
)
def test_assigned_names(source: str, names: list[str]) -> None:
    assert assigned_names(source) == names


@pytest.mark.parametrize("source", ["lr = ", "def f(:\n  pass", "x = (1, 2", "%timeit x = 1"])
def test_assigned_names_of_a_cell_that_does_not_parse(source: str) -> None:
    assert assigned_names(source) == []


# -- param_text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3, "3"),
        (-2, "-2"),
        (0.1, "0.1"),
        (1e-5, "1e-05"),
        (True, "True"),
        (False, "False"),
        (None, "None"),
        ("adam", "adam"),
        ("", ""),
        (math.inf, "inf"),
    ],
)
def test_param_text_of_scalars(value: object, text: str) -> None:
    assert param_text("p", value) == text


@pytest.mark.parametrize(
    "value",
    [
        [64, 32],
        (64, 32),
        [],
        {"momentum": 0.9, "nesterov": False, "schedule": None},
        {"layers": [64, {"act": "relu", "size": 2}]},  # three levels: the most allowed
        [["a", ["b"]], ("c",)],
    ],
)
def test_param_text_of_containers_is_json(value: object) -> None:
    text = param_text("p", value)
    expected = json.loads(json.dumps(value))  # tuples come back as lists
    assert json.loads(text) == expected


def test_param_text_keeps_nan_in_containers() -> None:
    assert param_text("p", [math.nan, 1.0]) == "[NaN, 1.0]"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (object(), "object"),
        ({1, 2}, "set"),
        (b"bytes", "bytes"),
        (3 + 4j, "complex"),
        (len, "builtin_function_or_method"),
        ([object()], "list"),
        ({1: "non-string key"}, "dict"),
        ({"nested": {"too": {"deep": [1]}}}, "dict"),
        ([[[[1]]]], "list"),
        (np.array([1, 2]), "ndarray"),
    ],
)
def test_param_text_refuses_what_is_not_simple(value: object, kind: str) -> None:
    with pytest.raises(NotSimpleError, match=rf"^model is a {kind}, not a number"):
        param_text("model", value)


def test_param_text_size_limit() -> None:
    # '["' + n x's + '"]' is n + 4 characters of JSON.
    at_limit = ["x" * (MAX_CONTAINER_JSON - 4)]
    assert len(param_text("p", at_limit)) == MAX_CONTAINER_JSON
    with pytest.raises(NotSimpleError, match=rf"is {MAX_CONTAINER_JSON + 1} characters as JSON"):
        param_text("p", ["x" * (MAX_CONTAINER_JSON - 3)])
    with pytest.raises(NotSimpleError, match=rf"the limit is {MAX_CONTAINER_JSON}"):
        param_text("p", list(range(1000)))
    # Plain strings are not containers: no JSON limit here.
    assert param_text("p", "y" * 5000) == "y" * 5000


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (np.float64(0.25), "0.25"),
        (np.float32(0.5), "0.5"),
        (np.int64(7), "7"),
        (np.int8(-3), "-3"),
        (np.bool_(True), "True"),
        (np.array(2.5), "2.5"),  # a 0-d array
        (np.str_("sgd"), "sgd"),
    ],
)
def test_param_text_of_numpy_scalars(value: object, text: str) -> None:
    assert param_text("p", value) == text


# -- collect -----------------------------------------------------------------------------------


def test_collect_reads_values_after_the_cell_ran() -> None:
    source = (
        "lr = 0.1\n"
        "name = 'adam'\n"
        "model = object()\n"
        "a, b = 1, [2, 3]\n"
        "gone = 1\n"
        "for i in range(3):\n"
        "    pass\n"
        "_private = 5\n"
    )
    namespace = {
        "lr": 0.1,
        "name": "adam",
        "model": object(),
        "a": 1,
        "b": [2, 3],
        "i": 2,
        "_private": 5,
        # "gone" was deleted again before the cell ended
    }
    params, skipped = collect(source, namespace)
    assert params == {"lr": "0.1", "name": "adam", "a": "1", "b": "[2, 3]"}
    assert list(params) == ["lr", "name", "a", "b"]  # in the cell's order
    assert skipped == [
        "model is a object, not a number, string, bool, None or a small list/tuple/dict of those",
        "gone is not defined after the cell ran",
    ]


def test_collect_uses_the_final_value() -> None:
    params, skipped = collect("lr = 0.1\nlr = 0.2", {"lr": 0.2})
    assert params == {"lr": "0.2"}
    assert skipped == []


def test_collect_of_a_cell_that_does_not_parse() -> None:
    assert collect("lr = = 1", {"lr": 1}) == ({}, [])
