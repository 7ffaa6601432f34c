"""``nbtrack models serve`` over real HTTP on loopback: formats, errors, limits, concurrency.

One server process (the real command line, uvicorn and all) serves the whole
module; requests go through ``http.client``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import nbtrack
from _models_helpers import iris_classifier
from _serving_helpers import Server, start_server, stop_server

pytest.importorskip("uvicorn", reason="serving comes with the models extra")
pytestmark = pytest.mark.slow

MAX_BODY = 20_000


@pytest.fixture(scope="module")
def model() -> tuple[Any, pd.DataFrame]:
    return iris_classifier()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, model: tuple[Any, pd.DataFrame]
) -> Iterator[Server]:
    clf, X = model
    base = tmp_path_factory.mktemp("serving")
    nbtrack.sklearn.save_model(clf, base / "iris", input_example=X[:5])
    env = {"NBTRACK_TRACKING_URI": str(base / ".nbtrack")}
    running = start_server(
        ["models", "serve", str(base / "iris"), "--max-body-bytes", str(MAX_BODY)], base, env
    )
    yield running
    stop_server(running)


def test_ping_health_and_version(server: Server) -> None:
    assert server.request("GET", "/ping")[0] == 200
    assert server.request("GET", "/health")[0] == 200
    status, body = server.request("GET", "/version")
    assert (status, body.decode()) == (200, nbtrack.__version__)
    assert server.request("GET", "/invocations")[0] == 405


def test_every_mlflow_input_format(server: Server, model: tuple[Any, pd.DataFrame]) -> None:
    clf, X = model
    rows = X.sample(12, random_state=0)
    expected = clf.predict(rows).tolist()
    split = json.loads(rows.to_json(orient="split", index=False))
    payloads = [
        {"dataframe_split": split},
        {"dataframe_records": rows.to_dict(orient="records")},
        {"inputs": rows.to_numpy().tolist()},
        {"instances": rows.to_numpy().tolist()},
        {"inputs": rows.to_dict(orient="list"), "params": {}},
    ]
    for payload in payloads:
        status, body = server.invoke(payload)
        assert status == 200, (payload.keys(), body)
        assert body == {"predictions": expected}
    status, raw = server.request(
        "POST", "/invocations", rows.to_csv(index=False).encode(), "text/csv"
    )
    assert status == 200, raw
    assert json.loads(raw) == {"predictions": expected}


def test_input_that_breaks_the_signature_gets_400(
    server: Server, model: tuple[Any, pd.DataFrame]
) -> None:
    _, X = model
    status, body = server.invoke(
        {"dataframe_records": X.drop(columns=["petal width (cm)"]).head(2).to_dict("records")}
    )
    assert status == 400
    assert body["error_code"] == "BAD_REQUEST"
    assert "missing column 'petal width (cm)' (double)" in body["message"]
    bad = X.head(2).astype(object)
    bad.iloc[0, 1] = "wide"
    status, body = server.invoke({"dataframe_records": bad.to_dict("records")})
    assert status == 400
    assert "column 'sepal width (cm)' has a value 'wide'" in body["message"]
    status, body = server.invoke({"inputs": [[1.0, 2.0]]})
    assert status == 400
    assert "shape (1, 2)" in body["message"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"", "application/json", 400, "not valid JSON"),
        (b"[1, 2]", "application/json", 400, "must be an object"),
        (b'{"inputs": [[1]], "instances": [[1]]}', "application/json", 400, "exactly one of"),
        (b'{"rows": []}', "application/json", 400, "found rows"),
        (b'{"dataframe_split": {"columns": ["a"]}}', "application/json", 400, "dataframe_split"),
        (b'{"dataframe_records": [1, 2]}', "application/json", 400, "list of"),
        (b'{"inputs": 5}', "application/json", 400, "list of rows"),
        (b"\xff\xfe\x00", "application/json", 400, "not valid JSON"),
        (b"a,b\n", "text/csv", 400, "no rows"),
        (b"x=1", "application/x-www-form-urlencoded", 415, "unsupported content type"),
    ],
)
def test_malformed_bodies(
    server: Server, body: bytes, content_type: str, status: int, message: str
) -> None:
    got, raw = server.request("POST", "/invocations", body, content_type)
    assert got == status, raw
    assert message in json.loads(raw)["message"]


def test_bodies_over_the_limit_get_413(server: Server, model: tuple[Any, pd.DataFrame]) -> None:
    _, X = model
    big = json.dumps({"inputs": np.tile(X.to_numpy(), (10, 1)).tolist()}).encode()
    assert len(big) > MAX_BODY
    status, raw = server.request("POST", "/invocations", big)
    assert status == 413
    assert f"at most {MAX_BODY}" in json.loads(raw)["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    status, raw = server.request("POST", "/invocations", chunks(), chunked=True)
    assert status == 413
    assert json.loads(raw)["error_code"] == "REQUEST_TOO_LARGE"
    small = {"inputs": X.head(3).to_numpy().tolist()}
    assert server.invoke(small)[0] == 200  # the server is fine afterwards


def test_concurrent_requests_all_get_their_own_answer(
    server: Server, model: tuple[Any, pd.DataFrame]
) -> None:
    clf, X = model

    def one(i: int) -> bool:
        rows = X.iloc[i % 140 : i % 140 + 1 + i % 10]
        if i % 7 == 3:  # a bad request mixed in
            status, body = server.invoke({"inputs": [[1.0]]})
            return status == 400
        status, body = server.invoke({"dataframe_split": json.loads(rows.to_json(orient="split"))})
        return status == 200 and body["predictions"] == clf.predict(rows).tolist()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(200)))
    assert all(results)


def test_serving_a_registered_model_by_alias(tmp_path: Path, store_dir: Path) -> None:
    clf, X = iris_classifier()
    with nbtrack.start_run():
        nbtrack.sklearn.log_model(clf, "model", input_example=X[:5], registered_model_name="iris")
    nbtrack.TrackingClient().set_registered_model_alias("iris", "champion", 1)
    nbtrack.flush()
    running = start_server(
        ["--tracking-uri", str(store_dir), "models", "serve", "models:/iris@champion"],
        tmp_path,
        {},
    )
    try:
        status, body = running.invoke({"inputs": X.head(4).to_numpy().tolist()})
        assert status == 200
        assert body["predictions"] == clf.predict(X.head(4)).tolist()
    finally:
        stop_server(running)
