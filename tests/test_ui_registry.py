"""The registry panel by its synced widget state, on a real registry in the test's store.

Buttons are clicked through ipywidgets' own ``Button.click`` (which runs the
handlers); every change is checked in the registry itself and its audit trail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("altair")

from IPython.core.interactiveshell import InteractiveShell

import nbtrack
from _models_helpers import iris_classifier
from _ui_helpers import EVIL, make_evil_run, make_runs
from nbtrack.exceptions import NotFoundError
from nbtrack.ui import RegistryPanel, registry
from nbtrack.ui._html import esc


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A saved iris classifier, registered as several versions by the tests."""
    clf, _ = iris_classifier()
    nbtrack.sklearn.save_model(clf, tmp_path / "iris-model")
    return tmp_path / "iris-model"


def _register(client: nbtrack.TrackingClient, model_dir: Path, name: str = "iris") -> list[str]:
    """Versions 1-3 of ``name``, each from a run of make_runs (run-0, run-1, run-2)."""
    ids = make_runs(client, 3, steps=3)
    for i, run_id in enumerate(ids):
        client.create_model_version(name, str(model_dir), run_id=run_id, description=f"fit {i}")
    return ids


def _widget_html(panel: RegistryPanel) -> str:
    parts = panel.controls
    return "".join(parts[k].value for k in ("listing", "question", "message", "error"))


def test_lists_versions_with_source_runs_and_their_metrics(
    client: nbtrack.TrackingClient, model_dir: Path
) -> None:
    ids = _register(client, model_dir)
    client.update_registered_model("iris", "iris classifier")
    panel = registry(client=client)
    entry = panel.entry("iris")
    assert [v.version.version for v in entry.versions] == [3, 2, 1]
    assert [v.run.info.run_id for v in entry.versions if v.run] == ids[::-1]
    header, rows = panel.version_rows(entry)
    assert header[:6] == ["version", "stage", "aliases", "source run", "status", "registered"]
    assert header[6:] == ["acc", "loss", "description"]
    assert rows[0][0:2] == ["3", "None"]
    assert rows[0][3] == f"run-2 ({ids[2][:8]})"
    assert rows[0][4] == "FINISHED"
    assert rows[0][6] == "0.52"  # acc of run-2
    assert rows[0][-1] == "fit 2"
    html = panel.controls["listing"].value
    assert "iris classifier" in html
    assert html.count("<tr") == 4  # header + 3 versions
    assert panel.controls["model"].options == ("iris",)
    assert [label for label, _ in panel.controls["version"].options] == [
        "3 · None",
        "2 · None",
        "1 · None",
    ]
    assert panel.selected_version == 3  # the newest by default
    assert not panel.controls["compare"].disabled
    assert panel.controls["confirm_row"].layout.display == "none"


def test_set_alias_waits_for_confirmation_and_is_audited(
    client: nbtrack.TrackingClient, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register(client, model_dir)
    monkeypatch.setenv("NBTRACK_USER", "alice")
    panel = registry(client=client)
    parts = panel.controls
    parts["version"].value = 2
    parts["alias"].value = "champion"
    parts["set_alias"].click()
    assert panel.pending is not None
    assert parts["confirm_row"].layout.display is None
    assert "Point alias &#x27;champion&#x27;" in parts["question"].value
    assert "a new alias" in parts["question"].value
    assert parts["set_alias"].disabled
    assert parts["transition"].disabled
    assert client.get_registered_model("iris").aliases == {}  # nothing yet

    parts["confirm"].click()
    assert client.get_registered_model("iris").aliases == {"champion": "2"}
    assert client.get_model_version_by_alias("iris", "champion").version == 2
    assert panel.pending is None
    assert parts["confirm_row"].layout.display == "none"
    assert "champion" in parts["message"].value
    assert parts["error"].value == ""
    assert "@champion" in parts["listing"].value
    event = client.get_registry_history("iris")[-1]
    assert (event.action, event.key, event.version, event.to_value) == (
        "set_alias",
        "champion",
        "2",
        "2",
    )
    assert event.user_id == "alice"
    assert "set alias v2 champion" in parts["listing"].value  # recent changes

    # Moving it says where it points now; Cancel leaves the registry alone.
    parts["version"].value = 3
    parts["set_alias"].click()
    assert "it points at version 2" in parts["question"].value
    parts["cancel"].click()
    assert panel.pending is None
    assert "nothing was changed" in parts["message"].value
    assert client.get_registered_model("iris").aliases == {"champion": "2"}
    assert len(client.get_registry_history("iris", 100)) == 5  # 1 create + 3 versions + 1 alias


def test_stage_transition_with_archiving_others(
    client: nbtrack.TrackingClient, model_dir: Path
) -> None:
    ids = _register(client, model_dir)
    panel = registry("iris", client=client)
    parts = panel.controls
    parts["version"].value = 1
    parts["stage"].value = "Production"
    parts["transition"].click()
    assert "from None to Production?" in parts["question"].value
    assert client.get_model_version("iris", 1).current_stage == "None"
    parts["confirm"].click()
    assert client.get_model_version("iris", 1).current_stage == "Production"
    assert parts["version"].value == 1  # the selection survives the refresh

    parts["version"].value = 2
    parts["archive"].value = True
    parts["transition"].click()
    assert "other Production versions will be archived" in parts["question"].value
    changed = panel.confirm()
    assert changed is not None
    assert changed.current_stage == "Production"
    assert client.get_model_version("iris", 1).current_stage == "Archived"
    stages = [
        (e.version, e.from_value, e.to_value, e.run_id)
        for e in client.get_registry_history("iris")
        if e.action == "transition_stage"
    ]
    assert stages == [
        ("1", "None", "Production", ids[0]),
        ("1", "Production", "Archived", ids[0]),
        ("2", "None", "Production", ids[1]),
    ]
    labels = [label for label, _ in parts["version"].options]
    assert labels == ["3 · None", "2 · Production", "1 · Archived"]


def test_bad_requests_are_shown_not_applied(
    client: nbtrack.TrackingClient, model_dir: Path
) -> None:
    _register(client, model_dir)
    panel = registry(client=client)
    parts = panel.controls
    for alias, expected in [("latest", "reserved"), ("v3", "reserved"), ("<b>x", "must be")]:
        parts["alias"].value = alias
        parts["set_alias"].click()
        assert panel.pending is None
        assert expected in parts["error"].value
    assert "&lt;b&gt;x" in parts["error"].value  # the typed text is escaped
    parts["stage"].value = "None"
    parts["transition"].click()  # version 3 is already in None
    assert "already in None" in parts["error"].value
    assert panel.confirm() is None
    assert "nothing to confirm" in panel.error
    assert panel.request_stage("iris", 7, "Staging") is None
    assert "no listed version 7" in panel.error
    assert panel.request_stage("iris", 3, "Shipped") is None
    assert "unknown stage 'Shipped'" in panel.error
    assert [e.action for e in client.get_registry_history("iris")].count("set_alias") == 0


def test_confirm_refuses_when_the_registry_changed_meanwhile(
    client: nbtrack.TrackingClient, model_dir: Path
) -> None:
    _register(client, model_dir)
    panel = registry(client=client)
    assert panel.request_alias("iris", 2, "champion") is not None
    other = nbtrack.TrackingClient(client.tracking_uri)  # e.g. a colleague's process
    other.set_registered_model_alias("iris", "champion", 1)
    assert panel.confirm() is None
    assert "changed since you asked (now 1, was unset)" in panel.error
    assert client.get_registered_model("iris").aliases == {"champion": "1"}
    assert "@champion" in panel.controls["listing"].value  # refreshed


def test_compare_opens_on_the_versions_source_runs(
    client: nbtrack.TrackingClient, model_dir: Path
) -> None:
    ids = _register(client, model_dir)
    client.create_model_version("iris", str(model_dir))  # version 4: no source run
    panel = registry(client=client)
    panel.controls["compare"].click()
    assert panel.compared is not None
    assert panel.compared.run_ids == ids[::-1]  # newest version first, v4 has no run
    assert "params that differ" in panel.compared.text()
    only = panel.compare_versions("iris", ["1", 2])
    assert only is not None
    assert only.run_ids == [ids[1], ids[0]]


def test_compare_without_any_source_run_says_why(
    client: nbtrack.TrackingClient, model_dir: Path
) -> None:
    client.create_model_version("disk", str(model_dir))
    panel = registry(client=client)
    assert panel.controls["compare"].disabled
    assert panel.compare_versions("disk") is None
    assert "no source run to compare for 'disk'" in panel.error


def test_removed_and_deleted_source_runs_are_marked(
    client: nbtrack.TrackingClient, model_dir: Path
) -> None:
    ids = _register(client, model_dir)
    client.delete_run(ids[0])
    client.garbage_collect(grace_seconds=0)  # run-0 is gone for good
    client.delete_run(ids[1])  # run-1 only soft-deleted
    panel = registry(client=client)
    labels = [v.run_label for v in panel.entry("iris").versions]
    assert labels == [
        f"run-2 ({ids[2][:8]})",
        f"run-1 ({ids[1][:8]}) (deleted)",
        f"{ids[0][:8]} (run removed)",
    ]
    assert panel.entry("iris").source_run_ids() == [ids[2], ids[1]]


def test_every_user_string_is_escaped(client: nbtrack.TrackingClient, model_dir: Path) -> None:
    run_id = make_evil_run(client)
    client.create_registered_model(EVIL, tags={"team": EVIL}, description=EVIL)
    client.create_model_version(EVIL, str(model_dir), run_id=run_id, description=EVIL)
    panel = registry(client=client)
    parts = panel.controls
    panel.request_alias(EVIL, 1, "champion")
    html = _widget_html(panel)
    assert "<img" not in html
    assert esc(EVIL) in parts["listing"].value
    assert esc(EVIL) in parts["question"].value
    parts["confirm"].click()
    assert "<img" not in _widget_html(panel)
    assert esc(EVIL) in parts["message"].value
    assert client.get_registered_model(EVIL).aliases == {"champion": "1"}
    # The dropdown shows the name as text, exactly as typed.
    assert parts["model"].options == (EVIL,)
    assert EVIL in panel.text()


def test_text_fallback_in_a_terminal(
    client: nbtrack.TrackingClient, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = registry(client=client)
    empty._ipython_display_()
    assert "no registered models yet" in capsys.readouterr().out
    ids = _register(client, model_dir)
    client.set_registered_model_alias("iris", "champion", 3)
    panel = registry(client=client, max_versions=2)
    panel.request_stage("iris", 3, "Staging")
    panel._ipython_display_()  # no kernel behind this IPython: text
    out = capsys.readouterr().out
    assert "model 'iris'" in out
    assert "aliases: @champion -> v3" in out
    assert f"run-2 ({ids[2][:8]})" in out
    assert "run-0" not in out  # version 1 is beyond max_versions
    assert "(1 older versions not shown)" in out
    assert "recent changes:" in out
    assert "set alias v3 champion" in out
    assert "pending: Move 'iris' version 3 from None to Staging?" in out
    assert repr(panel) == panel.text()


def test_one_model_by_name(client: nbtrack.TrackingClient, model_dir: Path) -> None:
    _register(client, model_dir)
    client.create_model_version("other", str(model_dir))
    client.create_model_version("bob's", str(model_dir))  # quoted right in the version query
    listed = registry(client=client)
    assert [e.model.name for e in listed.entries] == ["bob's", "iris", "other"]
    assert [len(e.versions) for e in listed.entries] == [1, 3, 1]
    panel = registry("other", client=client)
    assert [e.model.name for e in panel.entries] == ["other"]
    assert panel.entry("other").metric_keys() == []
    with pytest.raises(NotFoundError):
        registry("nope", client=client)
    client.delete_registered_model("other")
    panel.refresh()
    assert panel.entries == []
    assert "other" in panel.error
    assert "no registered models yet" in panel.controls["listing"].value


def test_track_models_magic(
    ip: InteractiveShell,
    client: nbtrack.TrackingClient,
    model_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _register(client, model_dir)
    client.create_model_version("other", str(model_dir))
    capsys.readouterr()
    assert ip.run_cell("%track models iris").success
    out = capsys.readouterr().out
    assert "model 'iris'" in out
    assert "other" not in out
    result = ip.run_cell("%track models nope")
    assert not result.success
    assert "nope" in str(result.error_in_exec)
