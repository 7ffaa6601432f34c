"""Oversized filters are FilterSyntaxErrors at parse time, never database errors."""

from __future__ import annotations

import pytest

from nbtrack import FilterSyntaxError, InvalidInputError, TrackingClient
from nbtrack.store import search


@pytest.fixture
def run_id(client: TrackingClient) -> str:
    run = client.create_run("0").info.run_id
    client.log_metric(run, "acc", 0.5)
    client.log_param(run, "lr", "1")
    client.flush()
    return run


def test_the_largest_filters_allowed_run_on_sqlite(client: TrackingClient, run_id: str) -> None:
    n = search.MAX_CONDITIONS
    flat = " and ".join(["metrics.acc > 0.1"] * n)
    assert [r.info.run_id for r in client.search_runs(["0"], flat)] == [run_id]
    # As deep as allowed, with every condition a metric subquery under alternating AND/OR.
    nested = "metrics.acc > 0.1"
    for i in range(n - 1):
        joiner = " and " if i % 2 else " or "
        nested = (
            f"({nested}{joiner}params.lr = '1')" if i < 99 else f"{nested}{joiner}metrics.acc > 0"
        )
    assert [r.info.run_id for r in client.search_runs(["0"], nested)] == [run_id]
    values = ", ".join(f"'{i}'" for i in range(search.MAX_LIST_VALUES))
    assert client.search_runs(["0"], f"params.lr IN ({values})")
    keys = ["metrics.acc DESC"] * search.MAX_ORDER_KEYS
    assert client.search_runs(["0"], order_by=keys)


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        (" and ".join(["metrics.acc > 0.1"] * 1200), "at most 200 conditions"),
        (" or ".join(["params.lr = '1'"] * 201), "at most 200 conditions"),
        ("params.lr IN (" + ", ".join("'x'" for _ in range(1001)) + ")", "at most 1000 values"),
        (f"attributes.start_time > {2**63}", "beyond 64-bit integers"),
        (f"attributes.experiment_id IN ({-(2**63) - 1})", "beyond 64-bit integers"),
        ("start_time > " + "9" * 5000, "beyond 64-bit integers"),
    ],
)
def test_oversized_filters_are_refused_before_the_database(
    client: TrackingClient, run_id: str, filter_string: str, message: str
) -> None:
    with pytest.raises(FilterSyntaxError, match=message) as caught:
        client.search_runs(["0"], filter_string)
    assert len(str(caught.value)) < 800  # the filter is shown around the error, not whole


def test_oversized_order_by_and_ids_are_refused(client: TrackingClient, run_id: str) -> None:
    with pytest.raises(FilterSyntaxError, match="at most 20 keys"):
        client.search_runs(["0"], order_by=["metrics.acc"] * 21)
    for bad in (str(2**63), str(-(2**63) - 1), "9" * 5000):
        with pytest.raises(InvalidInputError, match="is not an id") as caught:
            client.search_runs([bad])
        assert len(str(caught.value)) < 200
    assert client.search_runs([str(2**63 - 1)]) == []  # the largest id: valid, and absent
