"""The run-search filter grammar against a real SQLite file."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql

from nbtrack.exceptions import FilterSyntaxError
from nbtrack.store import schema
from nbtrack.store._dialect import create_engine, write_transaction
from nbtrack.store.search import (
    And,
    Comparison,
    Or,
    OrderKey,
    compile_filter,
    compile_order_by,
    parse_filter,
    parse_order_by,
)

# run_pk, run_id, experiment_id, name, status, start_time, end_time, user_id
RUNS = [
    (1, "r1", 1, "alpha", "FINISHED", 1000, 2000, "alice"),
    (2, "r2", 1, "beta", "FAILED", 2000, None, "bob"),
    (3, "r3", 1, "Alpha-2", "RUNNING", 3000, None, "alice"),
    (4, "r4", 2, "gamma", "FINISHED", 4000, 5000, "carol"),
]
PARAMS = {
    1: {"lr": "0.01", "batch size": "32", "optimizer": "Adam", "model.depth": "4"},
    2: {"lr": "0.1", "optimizer": "adam"},
    3: {"lr": "0.01", "optimizer": "SGD"},
}
TAGS = {
    1: {"team": "vision", "mlflow.note": "first"},
    2: {"team": "NLP"},
    3: {"team": "Vision-x"},
}
METRIC_KEYS = {"acc": 1, "train.loss": 2, "val loss": 3}
# Latest values; NaN is stored as NULL, as the writer does.
METRICS = {
    1: {"acc": 0.9, "train.loss": 0.1, "val loss": 0.2},
    2: {"acc": 0.5, "train.loss": math.nan},
    3: {"acc": 0.7},
    4: {"val loss": 0.3},
}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = create_engine(f"sqlite:///{tmp_path}/t.db")
    schema.metadata.create_all(engine)
    with write_transaction(engine) as conn:
        conn.execute(
            sa.insert(schema.experiments),
            [
                {
                    "experiment_id": i,
                    "name": f"exp-{i}",
                    "artifact_location": str(tmp_path / "artifacts" / str(i)),
                    "lifecycle_stage": "active",
                    "creation_time": 0,
                    "last_update_time": 0,
                }
                for i in (1, 2)
            ],
        )
        conn.execute(
            sa.insert(schema.runs),
            [
                {
                    "run_pk": pk,
                    "run_id": run_id,
                    "experiment_id": exp,
                    "name": name,
                    "status": status,
                    "start_time": start,
                    "end_time": end,
                    "lifecycle_stage": "active",
                    "user_id": user,
                    "host": "h",
                    "pid": 1,
                    "heartbeat": start,
                }
                for pk, run_id, exp, name, status, start, end, user in RUNS
            ],
        )
        for table, rows in ((schema.params, PARAMS), (schema.tags, TAGS)):
            conn.execute(
                sa.insert(table),
                [
                    {"run_pk": pk, "key": k, "value": v}
                    for pk, kv in rows.items()
                    for k, v in kv.items()
                ],
            )
        conn.execute(
            sa.insert(schema.metric_keys),
            [{"key_id": i, "key": k} for k, i in METRIC_KEYS.items()],
        )
        conn.execute(
            sa.insert(schema.latest_metrics),
            [
                {
                    "run_pk": pk,
                    "key_id": METRIC_KEYS[k],
                    "step": 0,
                    "timestamp": 0,
                    "value": None if math.isnan(v) else v,
                    "min_value": None if math.isnan(v) else v,
                    "max_value": None if math.isnan(v) else v,
                }
                for pk, kv in METRICS.items()
                for k, v in kv.items()
            ],
        )
    yield engine
    engine.dispose()


def search(engine: sa.Engine, filter_string: str | None) -> set[str]:
    expr = compile_filter(filter_string)
    stmt = sa.select(schema.runs.c.run_id)
    if expr is not None:
        stmt = stmt.where(expr)
    with engine.connect() as conn:
        return set(conn.scalars(stmt))


def ordered(engine: sa.Engine, order_by: list[str] | None, where: str | None = None) -> list[str]:
    stmt = sa.select(schema.runs.c.run_id).order_by(*compile_order_by(order_by))
    expr = compile_filter(where)
    if expr is not None:
        stmt = stmt.where(expr)
    with engine.connect() as conn:
        return list(conn.scalars(stmt))


def error(text: str) -> FilterSyntaxError:
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter(text)
    return info.value


ALL = {"r1", "r2", "r3", "r4"}


# ------------------------------------------------------------------ filtering


@pytest.mark.parametrize("text", [None, "", "   \n\t"])
def test_blank_filter_is_none(engine: sa.Engine, text: str | None) -> None:
    assert compile_filter(text) is None
    assert search(engine, text) == ALL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc = 0.9", {"r1"}),
        ("metrics.acc != 0.9", {"r2", "r3"}),
        ("metrics.acc > 0.5", {"r1", "r3"}),
        ("metrics.acc >= 0.5", {"r1", "r2", "r3"}),
        ("metrics.acc < 0.7", {"r2"}),
        ("metrics.acc <= 0.7", {"r2", "r3"}),
        ("metrics.acc > -1", {"r1", "r2", "r3"}),
        ("metrics.acc>5e-1", {"r1", "r3"}),
        ("metric.acc == 0.9", {"r1"}),
        ("metrics.acc <> 0.9", {"r2", "r3"}),
        ("metrics.acc IS NULL", {"r4"}),
        ("metrics.acc IS NOT NULL", {"r1", "r2", "r3"}),
        ("metrics.missing IS NULL", ALL),
        ("metrics.missing > 0", set()),
    ],
)
def test_metric_operators(engine: sa.Engine, text: str, expected: set[str]) -> None:
    assert search(engine, text) == expected


def test_nan_metric_is_logged_but_never_compares(engine: sa.Engine) -> None:
    # r2's latest train.loss is NaN (NULL): logged, yet no comparison matches it.
    assert search(engine, "metrics.train.loss IS NOT NULL") == {"r1", "r2"}
    assert search(engine, "metrics.train.loss IS NULL") == {"r3", "r4"}
    assert search(engine, "metrics.train.loss >= 0") == {"r1"}
    assert search(engine, "metrics.train.loss < 100") == {"r1"}
    assert search(engine, "metrics.train.loss != 0.1") == set()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.lr = '0.01'", {"r1", "r3"}),
        ('params.lr = "0.1"', {"r2"}),
        ("params.lr != '0.01'", {"r2"}),  # r4 has no lr: false, not true
        ("params.optimizer LIKE 'A%'", {"r1"}),
        ("params.optimizer LIKE 'a%'", {"r2"}),
        ("params.optimizer ILIKE 'a%'", {"r1", "r2"}),
        ("params.optimizer ILIKE '%D%'", {"r1", "r2", "r3"}),
        ("params.optimizer like '_dam'", {"r1", "r2"}),
        ("params.optimizer IN ('Adam', 'SGD')", {"r1", "r3"}),
        ("params.optimizer NOT IN ('Adam')", {"r2", "r3"}),
        ("params.optimizer in ('adam')", {"r2"}),
        ("params.lr IS NULL", {"r4"}),
        ("params.lr IS NOT NULL", {"r1", "r2", "r3"}),
        ("param.lr = '0.1'", {"r2"}),
        ("parameter.lr = '0.1'", {"r2"}),
        ("parameters.lr = '0.1'", {"r2"}),
        ("tags.team = 'vision'", {"r1"}),
        ("tag.team LIKE 'vision%'", {"r1"}),
        ("tags.team ILIKE 'vision%'", {"r1", "r3"}),
        ("tags.team NOT IN ('NLP')", {"r1", "r3"}),
        ("tags.team IS NULL", {"r4"}),
        ("tags.team = 'it''s'", set()),
    ],
)
def test_param_and_tag_operators(engine: sa.Engine, text: str, expected: set[str]) -> None:
    assert search(engine, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.train.loss < 0.5", {"r1"}),
        ("metrics.`val loss` > 0.25", {"r4"}),
        ('metrics."val loss" < 0.25', {"r1"}),
        ("params.\"batch size\" = '32'", {"r1"}),
        ("params.`batch size` IS NOT NULL", {"r1"}),
        ("params.model.depth = '4'", {"r1"}),
        ("tags.mlflow.note = 'first'", {"r1"}),
        ("tags.`mlflow.note` = 'first'", {"r1"}),
    ],
)
def test_dotted_and_quoted_keys(engine: sa.Engine, text: str, expected: set[str]) -> None:
    assert search(engine, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status = 'FINISHED'", {"r1", "r4"}),
        ("attributes.status != 'FINISHED'", {"r2", "r3"}),
        ("attribute.status IN ('FAILED', 'RUNNING')", {"r2", "r3"}),
        ("run.status NOT IN ('FAILED', 'RUNNING')", {"r1", "r4"}),
        ("STATUS = 'finished'", set()),
        ("status ILIKE 'finished'", {"r1", "r4"}),
        ("attributes.run_name LIKE 'Alpha%'", {"r3"}),
        ("run_name ILIKE 'alpha%'", {"r1", "r3"}),
        ("attr.run_id = 'r2'", {"r2"}),
        ("run_id IN ('r1', 'r4', 'nope')", {"r1", "r4"}),
        ("user_id = 'alice'", {"r1", "r3"}),
        ("start_time > 1500", {"r2", "r3", "r4"}),
        ("attributes.start_time <= 2000", {"r1", "r2"}),
        ("created >= 3000", {"r3", "r4"}),
        ("end_time IS NULL", {"r2", "r3"}),
        ("end_time IS NOT NULL AND end_time < 3000", {"r1"}),
        ("experiment_id = 2", {"r4"}),
        ("experiment_id = '1'", {"r1", "r2", "r3"}),
        ("attributes.experiment_id IN ('2', 1)", ALL),
        ("experiment_id NOT IN (1)", {"r4"}),
        ("experiment_id != '1'", {"r4"}),
    ],
)
def test_attributes(engine: sa.Engine, text: str, expected: set[str]) -> None:
    assert search(engine, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc > 0.6 AND params.lr = '0.01'", {"r1", "r3"}),
        ("metrics.acc > 0.6 and tags.team = 'vision'", {"r1"}),
        ("status = 'FAILED' OR experiment_id = 2", {"r2", "r4"}),
        # AND binds tighter: a OR (b AND c)
        ("status = 'FAILED' OR metrics.acc > 0.6 AND params.lr = '0.01'", {"r1", "r2", "r3"}),
        ("(status = 'FAILED' OR metrics.acc > 0.6) AND user_id = 'alice'", {"r1", "r3"}),
        ("status = 'FAILED' OR (metrics.acc > 0.6 AND user_id = 'bob')", {"r2"}),
        ("((tags.team IS NULL)) or (params.optimizer = 'SGD')", {"r3", "r4"}),
        ("params.lr = '0.01' AND (tags.team = 'vision' OR tags.team = 'NLP')", {"r1"}),
        ("status = 'FINISHED' AND metrics.acc IS NULL OR params.lr = '0.1'", {"r2", "r4"}),
    ],
)
def test_and_or_parentheses(engine: sa.Engine, text: str, expected: set[str]) -> None:
    assert search(engine, text) == expected


def test_parse_tree_shape() -> None:
    node = parse_filter("metrics.a > 1 OR params.b = 'x' AND tags.`c d` IS NOT NULL")
    assert node == Or(
        (
            Comparison("metric", "a", ">", 1.0, 0),
            And(
                (
                    Comparison("param", "b", "=", "x", 17),
                    Comparison("tag", "c d", "IS NOT NULL", None, 36),
                )
            ),
        )
    )
    assert parse_filter("attr.Created < 5") == Comparison("attribute", "start_time", "<", 5, 0)
    assert parse_filter("experiment_id IN ('3', 4)") == Comparison(
        "attribute", "experiment_id", "IN", (3, 4), 0
    )


def test_values_are_bound_parameters(engine: sa.Engine) -> None:
    hostile = "x'); DROP TABLE runs; --"
    text = "tags.team = '" + hostile.replace("'", "''") + "'"
    expr = compile_filter(text)
    assert expr is not None
    sql = str(sa.select(schema.runs).where(expr).compile(dialect=postgresql.dialect()))
    assert "DROP" not in sql
    assert search(engine, text) == set()
    assert search(engine, "status IS NOT NULL") == ALL  # runs table still there


def test_compiles_for_postgresql() -> None:
    expr = compile_filter("tags.t ILIKE 'a%' OR params.p LIKE 'b%' AND metrics.m IS NULL")
    assert expr is not None
    stmt = sa.select(schema.runs).where(expr).order_by(*compile_order_by(["metrics.m DESC"]))
    sql = str(stmt.compile(dialect=postgresql.dialect()))
    assert "ILIKE" in sql
    assert "NULLS LAST" in sql


# ------------------------------------------------------------------- ordering


def test_order_by_defaults(engine: sa.Engine) -> None:
    assert len(compile_order_by(None)) == 2
    assert len(compile_order_by([])) == 2
    assert ordered(engine, None) == ["r4", "r3", "r2", "r1"]


def test_order_by_metric_missing_last(engine: sa.Engine) -> None:
    assert ordered(engine, ["metrics.acc DESC"]) == ["r1", "r3", "r2", "r4"]
    assert ordered(engine, ["metrics.acc ASC"]) == ["r2", "r3", "r1", "r4"]
    assert ordered(engine, ["metrics.acc"]) == ["r2", "r3", "r1", "r4"]
    # NaN (NULL) sorts with the missing ones; ties broken by start_time DESC.
    assert ordered(engine, ["metrics.train.loss desc"]) == ["r1", "r4", "r3", "r2"]
    assert ordered(engine, ["metrics.`val loss` DESC"]) == ["r4", "r1", "r3", "r2"]


def test_order_by_param_tag_and_attribute(engine: sa.Engine) -> None:
    assert ordered(engine, ["params.lr"]) == ["r3", "r1", "r2", "r4"]
    assert ordered(engine, ["params.lr DESC"]) == ["r2", "r3", "r1", "r4"]
    assert ordered(engine, ["params.lr", "metrics.acc DESC"]) == ["r1", "r3", "r2", "r4"]
    assert ordered(engine, ["tags.team ASC"]) == ["r2", "r3", "r1", "r4"]
    assert ordered(engine, ["attributes.start_time ASC"]) == ["r1", "r2", "r3", "r4"]
    assert ordered(engine, ["run_name"]) == ["r3", "r1", "r2", "r4"]
    assert ordered(engine, ["end_time DESC"]) == ["r4", "r1", "r3", "r2"]
    assert ordered(engine, ["metrics.acc DESC"], where="params.lr = '0.01'") == ["r1", "r3"]


def test_parse_order_by() -> None:
    assert parse_order_by("metrics.acc DESC") == OrderKey("metric", "acc", True)
    assert parse_order_by("  params.`batch size`  asc ") == OrderKey("param", "batch size", False)
    assert parse_order_by("created") == OrderKey("attribute", "start_time", False)


@pytest.mark.parametrize(
    ("item", "message", "position"),
    [
        ("metrics.acc DOWN", "expected ASC, DESC or end of order_by item, found 'DOWN'", 12),
        ("metrics.acc DESC, params.lr", "found ','", 16),
        ("nope.acc", "unknown entity 'nope'", 0),
        ("attributes.colour", "unknown attribute 'colour'", 11),
        ("DESC", "expected a sort key", 0),
        ("   ", "empty order_by item", 0),
    ],
)
def test_order_by_errors(item: str, message: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        compile_order_by(["metrics.acc", item])
    assert message in str(info.value)
    assert info.value.position == position
    assert info.value.text == item


# --------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "fragments", "position"),
    [
        ("metricz.acc > 1", ["unknown entity 'metricz'", "metrics."], 0),
        ("foo = 'x'", ["unknown attribute 'foo'", "run_name", "start_time", "status"], 0),
        ("attributes.colour = 'x'", ["unknown attribute 'colour'", "experiment_id"], 11),
        ("metrics.acc >", ["missing value after '>'", "end of filter"], 13),
        ("metrics.acc > AND", ["missing value after '>'", "'AND'"], 14),
        ("tags.team = 'vision", ["unterminated string"], 12),
        ("metrics.`val loss > 1", ["unterminated key quoted with backticks"], 8),
        ("(metrics.acc > 1", ["unbalanced parentheses", "never closed"], 0),
        ("metrics.acc > 1)", ["unbalanced parentheses", "no matching '('"], 15),
        ("(metrics.acc > 1 tags.a = 'b')", ["expected AND, OR or ')'"], 17),
        ("metrics.acc > 1 metrics.b > 2", ["expected AND, OR or end of filter", "metrics.b"], 16),
        ("metrics.acc > 1 AND", ["expected a comparison", "end of filter"], 19),
        ("AND metrics.acc > 1", ["expected a comparison", "'AND'"], 0),
        ("()", ["expected a comparison", "')'"], 1),
        ("params.lr > '0.1'", ["not allowed on params, which are strings", "LIKE", "NOT IN"], 10),
        ("params.lr <= '0.1'", ["params, which are strings"], 10),
        ("tags.t < 'x'", ["not allowed on tags, which are strings"], 7),
        ("metrics.acc LIKE '0%'", ["not allowed on metrics, which are numbers"], 12),
        ("metrics.acc IN (1, 2)", ["not allowed on metrics"], 12),
        ("status > 'A'", ["not allowed on attribute status"], 7),
        ("start_time LIKE '1%'", ["not allowed on attribute start_time"], 11),
        ("experiment_id > 1", ["not allowed on attribute experiment_id"], 14),
        ("params.lr = 0.01", ["params are strings: write params.lr = '0.01'"], 12),
        ("tags.epochs != 10", ["tags are strings: write tags.epochs != '10'"], 15),
        ("params.`batch size` = 32", ["write params.`batch size` = '32'"], 22),
        ("params.lr IN ('0.1', 1e-3)", ["write params.lr IN ('0.1', '1e-3')"], 21),
        ("run_name = 5", ["run_name is a string: write attributes.run_name = '5'"], 11),
        ("metrics.acc > '0.5'", ["metrics are numbers: write metrics.acc > 0.5"], 14),
        ("start_time > 'yesterday'", ["start_time is a number"], 13),
        ("experiment_id = 'abc'", ["experiment_id must be an integer, found 'abc'"], 16),
        ("experiment_id IN (1, 2.5)", ["experiment_id must be an integer, found '2.5'"], 21),
        ("params.lr = NULL", ["IS NULL"], 12),
        ("params.lr IS 'x'", ["expected NULL or NOT NULL after IS"], 13),
        ("params.lr IS NOT 'x'", ["expected NULL after IS NOT"], 17),
        ("params.lr IS", ["expected NULL or NOT NULL after IS", "end of filter"], 12),
        ("start_time > '5'", ["start_time is a number: write attributes.start_time > 5"], 13),
        ("metrics.acc > 'nan'", ["write metrics.acc > 0.5"], 14),
        ("params.lr NOT LIKE 'x'", ["expected IN after NOT"], 14),
        ("params.lr IN 'x'", ["expected '(' after IN"], 13),
        ("params.lr IN ()", ["empty list after IN"], 14),
        ("params.lr IN ('a' 'b')", ["expected ',' or ')' in the IN list"], 18),
        ("params.lr IN ('a',", ["unbalanced parentheses"], 13),
        ("params.lr 'x'", ["expected an operator after params.lr"], 10),
        ("metrics. > 1", ["missing key after 'metrics.'"], 8),
        ("metrics.acc ! 1", ["did you mean '!='"], 12),
        ("metrics.acc > 1; DROP", ["unexpected character ';'"], 15),
        ("metrics.acc > 1.2.3", ["invalid number '1.2.3'"], 14),
        ("`acc` > 1", ["unexpected backtick"], 0),
        ("(" * 101 + "status = 'x'" + ")" * 101, ["nested more than 100 deep"], 100),
    ],
)
def test_errors(text: str, fragments: list[str], position: int) -> None:
    err = error(text)
    for fragment in fragments:
        assert fragment in str(err)
    assert err.position == position
    assert err.text == text
    # The caret pointer lines up with the reported position.
    assert str(err).endswith("\n  " + " " * position + "^")


def test_parse_filter_rejects_blank() -> None:
    with pytest.raises(FilterSyntaxError, match="empty filter"):
        parse_filter("  ")


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(
            list("metrics.params.tags.acc lr status AND OR IN NOT IS NULL ()'\"`,=!<>-1.5 ")
        ),
        max_size=40,
    )
)
def test_parse_never_crashes(text: str) -> None:
    position: int | None = None
    try:
        expr = compile_filter(text)
    except FilterSyntaxError as exc:
        position = exc.position
    if position is None:
        assert expr is None or isinstance(expr, sa.ColumnElement)
    else:
        assert 0 <= position <= len(text)
