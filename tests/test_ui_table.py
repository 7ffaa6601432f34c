"""The run table by its synced widget state: HTML contents, sort, filter, paging, selection."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("altair")

import nbtrack
from _ui_helpers import EVIL, make_evil_run, make_runs
from nbtrack.exceptions import FilterSyntaxError
from nbtrack.ui import _runs_table, compare, runs


def _names(table: _runs_table.RunTable) -> list[str]:
    return [r.info.run_name for r in table.page.runs]


def test_table_shows_columns_of_the_page(client: nbtrack.TrackingClient) -> None:
    make_runs(client, 3)
    table = runs(client=client)
    assert table.columns()[:4] == ["status", "name", "start", "duration"]
    assert {"params.lr", "params.opt", "metrics.loss", "metrics.acc", "tags.team"} <= set(
        table.columns()
    )
    html = table.controls["table"].value
    assert html.count("<tr data-run-id=") == 3
    assert "run-2" in html
    assert "FINISHED" in html
    assert _names(table) == ["run-2", "run-1", "run-0"]  # newest first
    assert table.controls["status"].value.startswith("runs 1-3 of 3")


def test_sort_by_any_column(client: nbtrack.TrackingClient) -> None:
    make_runs(client, 4)
    table = runs(client=client)
    table.sort_by("params.lr", descending=False)
    assert _names(table) == ["run-0", "run-1", "run-2", "run-3"]
    table.sort_by("metrics.loss", descending=True)
    assert _names(table) == ["run-3", "run-2", "run-1", "run-0"]
    table.sort_by("duration", descending=True)  # run-i lasted 500*(i+1) ms
    assert _names(table) == ["run-3", "run-2", "run-1", "run-0"]
    table.sort_by("name", descending=False)
    assert _names(table) == ["run-0", "run-1", "run-2", "run-3"]
    # the dropdown drives the same state
    parts = table.controls
    parts["order"].value = "asc"
    parts["sort"].value = "tags.team"
    assert table.sort == ("tag", "team")
    assert _names(table)[:2] == ["run-2", "run-0"]  # t0 first; ties newest first


def test_filter_box_and_bad_filter_keeps_last_good_state(
    client: nbtrack.TrackingClient,
) -> None:
    make_runs(client, 4)
    table = runs(client=client)
    parts = table.controls
    parts["filter"].value = "params.lr = '0.2'"
    assert _names(table) == ["run-1"]
    assert parts["error"].value == ""
    good_html = parts["table"].value
    parts["filter"].value = "metrics.loss >"
    assert "missing value" in parts["error"].value
    assert parts["table"].value == good_html  # the last good state stays
    assert table.filter_string == "params.lr = '0.2'"
    parts["filter"].value = "tags.team = 't0'"
    assert parts["error"].value == ""
    assert set(_names(table)) == {"run-0", "run-2"}


def test_bad_initial_filter_raises(client: nbtrack.TrackingClient) -> None:
    make_runs(client, 1)
    with pytest.raises(nbtrack.exceptions.NbtrackError):
        runs("params.lr ==", client=client)
    with pytest.raises(FilterSyntaxError):
        client.search_runs(filter_string="params.lr ==")


def test_paging_queries_only_the_shown_page(client: nbtrack.TrackingClient) -> None:
    make_runs(client, 7, steps=2)
    table = runs(client=client, page_size=3)
    parts = table.controls
    assert len(table.page.runs) == 3
    assert table.page.total == 7
    assert parts["prev"].disabled
    assert not parts["next"].disabled
    parts["next"].click()
    assert _names(table) == ["run-3", "run-2", "run-1"]
    parts["next"].click()
    assert _names(table) == ["run-0"]
    assert parts["next"].disabled
    assert [c.layout.display for c in parts["checks"]] == [None, "none", "none"]
    parts["prev"].click()
    assert _names(table) == ["run-3", "run-2", "run-1"]


def test_refresh_picks_up_new_runs(client: nbtrack.TrackingClient) -> None:
    make_runs(client, 2)
    table = runs(client=client)
    make_runs(client, 1, experiment="other")
    assert table.page.total == 2
    table.controls["refresh"].click()
    assert table.page.total == 3


def test_experiment_restricts_the_table(client: nbtrack.TrackingClient) -> None:
    make_runs(client, 2)
    make_runs(client, 1, experiment="other")
    assert runs(experiment="other", client=client).page.total == 1
    with pytest.raises(nbtrack.exceptions.NotFoundError):
        runs(experiment="nope", client=client)


def test_checkboxes_feed_compare(client: nbtrack.TrackingClient) -> None:
    ids = make_runs(client, 4)
    table = runs(client=client, page_size=2)
    parts = table.controls
    parts["checks"][0].value = True  # run-3
    parts["next"].click()
    parts["checks"][1].value = True  # run-0
    assert table.selected_run_ids == [ids[3], ids[0]]
    assert "2 selected" in parts["status"].value
    parts["prev"].click()
    assert parts["checks"][0].value is True  # selection survives paging
    panel = compare(client=client)  # default: the last table's selection
    assert panel.run_ids == [ids[3], ids[0]]
    parts["checks"][0].value = False
    assert table.selected_run_ids == [ids[0]]
    parts["compare"].click()
    assert table._compare is not None
    assert table._compare.run_ids == [ids[0]]


def test_user_strings_are_escaped(client: nbtrack.TrackingClient) -> None:
    make_evil_run(client)
    table = runs(client=client)
    html = table.controls["table"].value
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "note" in table.columns()
    parts = table.controls
    parts["filter"].value = f"params.p = '{EVIL}' AND"
    assert "<img" not in parts["error"].value


def test_terminal_prints_a_static_table(
    client: nbtrack.TrackingClient, capsys: pytest.CaptureFixture[str]
) -> None:
    make_runs(client, 2)
    table = runs(client=client)
    table._ipython_display_()  # no kernel here: text
    out = capsys.readouterr().out
    assert "run-1" in out
    assert "params.lr" in out
    assert "runs 1-2 of 2" in out
    assert table._widgets is None  # no widget was built


def test_child_runs_are_grouped_under_their_parent(client: nbtrack.TrackingClient) -> None:
    lone = client.create_run("0", run_name="lone").info.run_id
    parent = client.create_run("0", run_name="sweep").info.run_id
    kids = [
        client.create_run("0", run_name=f"combo-{i}", parent_run_id=parent).info.run_id
        for i in range(3)
    ]
    later = client.create_run("0", run_name="later").info.run_id
    table = runs(client=client)
    assert [r.info.run_id for r in table.page.runs] == [later, parent, *kids, lone]
    assert table.rows()[2][table.columns().index("name")] == "↳ combo-0"
    # A child whose parent is on another page stays in place, still marked as a child.
    small = runs(client=client, page_size=2)
    assert [r.info.run_id for r in small.page.runs] == [later, kids[2]]
    assert small.rows()[1][small.columns().index("name")] == "↳ combo-2"
    flat = runs(client=client, group_children=False)
    assert [r.info.run_id for r in flat.page.runs] == [later, *kids[::-1], parent, lone]
    # A page holding a parent and its children gets a checkbox for every row.
    one = runs(client=client, filter="attributes.run_name = 'sweep'", page_size=1)
    assert [r.info.run_id for r in one.page.runs] == [parent, *kids]
    shown = [c for c in one.controls["checks"] if c.layout.display is None]
    assert len(shown) == 4
    shown[3].value = True
    assert one.selected_run_ids == [kids[2]]


def test_the_table_creates_no_store_and_shows_runs_once_one_is_logged(store_dir: Path) -> None:
    # `%track runs` before the first run: the table says where the store will be.
    table = runs()
    assert not store_dir.exists()
    assert table.store_missing
    assert f"no store at {store_dir} (create one by logging a run)" in table.text()
    assert "filter error" not in table.text()
    with nbtrack.start_run(run_name="first"):
        nbtrack.log_metric("loss", 0.5)
    table.refresh()
    assert _names(table) == ["first"]
    assert not table.store_missing
    assert table.error == ""
    assert compare_of_first(table) == ["first"]


def compare_of_first(table: _runs_table.RunTable) -> list[str]:
    """The compare panel of the table's first run: it reads through a writing client."""
    table.select(table.page.runs[0].info.run_id)
    return [run.info.run_name for run in table.compare_selected().runs]
