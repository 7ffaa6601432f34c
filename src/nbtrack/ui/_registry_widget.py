"""The ipywidgets of a :class:`~nbtrack.ui._registry_panel.RegistryPanel`: built once, synced.

Buttons only ask: "Set alias…" and "Move to stage…" fill the confirmation
row, and only its Confirm button changes the registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w  # type: ignore[import-untyped]

from nbtrack.ui._html import esc

if TYPE_CHECKING:
    from nbtrack.ui._registry_panel import RegistryPanel


def build(panel: RegistryPanel) -> dict[str, Any]:
    """Create the widgets of ``panel`` and wire their events to its methods."""
    from nbtrack.ui._registry_panel import STAGES

    parts: dict[str, Any] = {
        "model": w.Dropdown(description="model", layout=w.Layout(width="auto")),
        "version": w.Dropdown(description="version", layout=w.Layout(width="auto")),
        "alias": w.Text(placeholder="alias, e.g. champion", layout=w.Layout(width="14em")),
        "set_alias": w.Button(description="Set alias…", tooltip="point the alias at the version"),
        "stage": w.Dropdown(options=STAGES, value="Production", layout=w.Layout(width="9em")),
        "archive": w.Checkbox(value=False, description="archive others in it", indent=False),
        "transition": w.Button(description="Move to stage…", tooltip="change the version's stage"),
        "compare": w.Button(
            description="Compare source runs",
            button_style="info",
            tooltip="open the compare panel on the runs the model's versions came from",
        ),
        "refresh": w.Button(description="Refresh", icon="refresh"),
        "question": w.HTML(),
        "confirm": w.Button(description="Confirm", button_style="warning"),
        "cancel": w.Button(description="Cancel"),
        "message": w.HTML(),
        "error": w.HTML(),
        "listing": w.HTML(),
        "output": w.Output(),
        "syncing": False,
    }

    def on_select(_change: Any) -> None:
        if parts["syncing"] or parts["model"].value is None:
            return
        model = parts["model"].value
        version = parts["version"].value if model == panel.selected_model else None
        panel.select(model, version)

    def on_set_alias(_button: Any) -> None:
        if panel.selected_model and panel.selected_version:
            panel.request_alias(panel.selected_model, panel.selected_version, parts["alias"].value)

    def on_transition(_button: Any) -> None:
        if panel.selected_model and panel.selected_version:
            panel.request_stage(
                panel.selected_model,
                panel.selected_version,
                parts["stage"].value,
                archive_existing=parts["archive"].value,
            )

    def on_compare(_button: Any) -> None:
        out = parts["output"]
        out.clear_output()
        if panel.selected_model is None:
            return
        found = panel.compare_versions(panel.selected_model)
        if found is not None:
            from nbtrack.ui._display import show

            with out:
                show(found)

    parts["model"].observe(on_select, names="value")
    parts["version"].observe(on_select, names="value")
    parts["set_alias"].on_click(on_set_alias)
    parts["transition"].on_click(on_transition)
    parts["compare"].on_click(on_compare)
    parts["refresh"].on_click(lambda _b: panel.refresh())
    parts["confirm"].on_click(lambda _b: panel.confirm())
    parts["cancel"].on_click(lambda _b: panel.cancel())

    parts["confirm_row"] = w.HBox([parts["question"], parts["confirm"], parts["cancel"]])
    parts["confirm_row"].add_class("nbtrack-confirm")
    parts["root"] = w.VBox(
        [
            parts["listing"],
            w.HBox([parts["model"], parts["version"], parts["refresh"]]),
            w.HBox([parts["alias"], parts["set_alias"]]),
            w.HBox([parts["stage"], parts["archive"], parts["transition"]]),
            parts["confirm_row"],
            parts["message"],
            parts["error"],
            parts["compare"],
            parts["output"],
        ]
    )
    parts["root"].add_class("nbtrack-registry")
    return parts


def sync(panel: RegistryPanel, parts: dict[str, Any]) -> None:
    """Push ``panel``'s state into its widgets (events they raise meanwhile are ignored)."""
    parts["syncing"] = True
    try:
        parts["listing"].value = panel.html()
        # Dropdown labels are plain text (never rendered as HTML).
        parts["model"].options = [e.model.name for e in panel.entries]
        parts["model"].value = panel.selected_model
        entry = panel.selected_entry
        parts["version"].options = (
            [(v.label, v.version.version) for v in entry.versions] if entry else []
        )
        parts["version"].value = panel.selected_version
        idle = panel.selected_version is None
        for name in ("set_alias", "transition"):
            parts[name].disabled = idle or panel.pending is not None
        parts["compare"].disabled = entry is None or not entry.source_run_ids()
        pending = panel.pending
        parts["question"].value = f"<b>{esc(pending.describe())}</b>" if pending else ""
        parts["confirm_row"].layout.display = None if pending else "none"
        parts["message"].value = f"<span>{esc(panel.message)}</span>" if panel.message else ""
        parts["error"].value = f'<pre class="err">{esc(panel.error)}</pre>' if panel.error else ""
    finally:
        parts["syncing"] = False
