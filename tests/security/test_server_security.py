"""The server extension: bad input is a short 400 (never a 500 or SQL), damaged blobs are refused.

Runs the server in-process with pytest-jupyter like tests/test_server_api.py,
whose fixtures (``api``, ``jp_server_config``) and answer checks it reuses.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from tornado.simple_httpclient import HTTPStreamClosedError

pytest.importorskip("jupyter_server")
pytest.importorskip("pytest_jupyter")

from _tamper import blob_file, set_sha256
from pytest_jupyter.jupyter_server import *  # noqa: F403 - its fixtures, for this module only

import nbtrack
import test_server_api
from _ui_helpers import make_runs
from test_server_api import Api, error, ok

# The server tests' fixtures: the in-process server's config, and one call to nbtrack/api.
jp_server_config = test_server_api.jp_server_config
api = test_server_api.api

SQL_WORDS = ("SELECT", "FROM runs", "WHERE", "sqlite", "[SQL", "OperationalError", "Traceback")


def token(payload: object) -> str:
    """A page token as the server spells them, holding ``payload``."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def short_400(reply: object, *words: str) -> str:
    """The message of a 400 that is short, names what was wrong and holds no SQL."""
    message = error(reply, 400)  # type: ignore[arg-type]
    assert len(message) < 800, message
    assert not any(w in message for w in SQL_WORDS), message
    for word in words:
        assert word in message, message
    return message


BAD_RUN_QUERIES = [
    ({"experiment_id": str(2**70)}, "experiment id"),
    ({"experiment_id": str(-(2**70))}, "experiment id"),
    ({"experiment_id": "9" * 5000}, "experiment id"),
    ({"page_token": token({"offset": 2**70})}, "page_token"),
    ({"page_token": token({"offset": 10**400})}, "page_token"),
    ({"page_token": token({"offset": True})}, "page_token"),
    ({"page_token": "x" * 20_000}, "page_token"),
    ({"filter": " and ".join(["metrics.acc > 0.1"] * 1200)}, "conditions"),
    ({"filter": " or ".join(["params.lr = '1'"] * 1200)}, "conditions"),
    ({"filter": "(" * 1200 + "metrics.acc > 0" + ")" * 1200}, "nested"),
    ({"filter": "params.lr IN (" + ", ".join(f"'{i}'" for i in range(1001)) + ")"}, "values"),
    ({"filter": f"metrics.acc > {2**70}"}, None),  # a float comparison: fine
    ({"filter": f"attributes.start_time > {2**70}"}, "start_time"),
    ({"filter": "metrics.acc > 1e999"}, None),
    ({"max_results": str(2**70)}, "max_results"),
    ({"max_results": "9" * 5000}, "max_results"),
]


@pytest.mark.parametrize(("params", "word"), BAD_RUN_QUERIES)
def test_bad_run_queries_are_short_400s(
    api: Api, client: nbtrack.TrackingClient, params: dict[str, str], word: str | None
) -> None:
    make_runs(client, 2)
    reply = api("runs", params=params)
    if word is None:  # accepted: a well-formed query, answered
        ok(reply)
    else:
        short_400(reply, word)


def test_too_many_experiment_ids_and_order_keys_are_400s(
    api: Api, client: nbtrack.TrackingClient
) -> None:
    make_runs(client, 2)
    # 1,001 experiment ids: a 400 from the server's HTTP layer (a request this long is
    # refused before nbtrack sees it) or from nbtrack's own limit; never a 500.
    assert api("runs", params=[("experiment_id", "1")] * 1001).status == 400
    ok(api("runs", params=[("experiment_id", str(i)) for i in range(300)]))
    many_keys = [("order_by", "metrics.acc DESC")] * 21
    short_400(api("runs", params=many_keys), "order_by")
    ok(api("runs", params=many_keys[:20]))


def test_bad_history_and_artifact_queries_are_400s(
    api: Api, client: nbtrack.TrackingClient
) -> None:
    run_id = make_runs(client, 1)[0]
    short_400(api("runs", run_id, "history", params={"key": "loss", "max_points": str(2**70)}))
    short_400(api("runs", run_id, "history", params={"key": "loss", "max_points": "9" * 5000}))
    short_400(api("runs", run_id, "artifacts", "raw", params={"path": "x" * 5000}), "limit")


def test_errors_quoting_long_input_stay_short(api: Api, client: nbtrack.TrackingClient) -> None:
    make_runs(client, 1)
    for reply, status in (
        (api("runs", "x" * 5000), 404),
        (api("runs", "x" * 5000, "delete", method="POST", body={}), 404),
        (api("experiments", params={"view": "v" * 5000}), 400),
    ):
        message = error(reply, status)
        assert len(message) <= 1000, len(message)
        assert "characters in all" in message


def test_an_unexpected_error_names_no_sql(
    api: Api, client: nbtrack.TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever slips through, a 500 gives the error's type and no database text."""
    import sqlite3

    from nbtrack.server import _queries

    make_runs(client, 1)

    def broken(*_: object) -> None:
        raise sqlite3.OperationalError("near SELECT runs.run_pk FROM runs WHERE secret = 'x'")

    monkeypatch.setattr(_queries, "search_runs", broken)
    message = error(api("runs"), 500)
    assert "OperationalError" in message
    assert "SELECT" not in message
    assert "secret" not in message


def test_damaged_blobs_are_never_served(api: Api, client: nbtrack.TrackingClient) -> None:
    run_id = make_runs(client, 1)[0]
    client.log_text(run_id, "small file", "small.txt")
    big = bytes(range(256)) * 12_000  # three 1 MiB chunks
    client.log_bytes(run_id, big, "big.bin")
    small_blob, big_blob = (blob_file(client, run_id, p) for p in ("small.txt", "big.bin"))

    small_blob.write_bytes(b"SMALL FILE")  # same size, other content
    message = error(api("runs", run_id, "artifacts", "raw", params={"path": "small.txt"}), 500)
    assert "was changed on disk" in message
    assert "log the original file again" in message
    big_blob.write_bytes(big + b"x")  # a wrong size fails before any byte too
    assert "holds" in error(
        api("runs", run_id, "artifacts", "raw", params={"path": "big.bin"}), 500
    )

    # Same size, edited at the end: the answer stops short of its last chunk and of its
    # Content-Length, so the client fails rather than keep the edited file.
    big_blob.write_bytes(big[:-1] + b"\x00")
    with pytest.raises(HTTPStreamClosedError):
        api("runs", run_id, "artifacts", "raw", params={"path": "big.bin"})

    client.log_bytes(run_id, big, "copy.bin")  # logging the content again repairs the blob
    assert api("runs", run_id, "artifacts", "raw", params={"path": "big.bin"}).body == big


def test_crafted_sha256_rows_are_never_served(
    api: Api, client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text('{"secret": true}')
    run_id = make_runs(client, 1)[0]
    client.log_text(run_id, "{}", "notebook.ipynb")
    client.log_text(run_id, "{}", "environment.json")
    for path in ("notebook.ipynb", "environment.json"):
        set_sha256(client, run_id, path, "xx" + str(secret))
    for route, params in (
        (("artifacts", "raw"), {"path": "notebook.ipynb"}),
        (("snapshot",), {}),
        (("environment",), {}),
    ):
        reply = api("runs", run_id, *route, params=params)
        assert "its database was altered" in error(reply, 500), route
        assert b"true" not in reply.body  # the file's content never goes out


def test_a_tag_that_cannot_be_stored_is_a_400_and_loses_nothing(
    api: Api, client: nbtrack.TrackingClient
) -> None:
    """A lone surrogate (valid JSON, not storable text) is refused at the call, not later."""
    run_id = make_runs(client, 1)[0]
    client.set_tag(run_id, "kept", "yes")
    client.flush()
    value, key = {"key": "k", "value": "\ud800"}, {"key": "\udfff", "value": "v"}
    short_400(api("runs", run_id, "tags", method="POST", body=value), "lone surrogate")
    short_400(api("runs", run_id, "tags", method="POST", body=key), "tag name")
    client.flush()  # nothing bad was queued: the writer has nothing to report
    tags = client.get_run(run_id).data.tags
    assert tags["kept"] == "yes"
    assert "k" not in tags
