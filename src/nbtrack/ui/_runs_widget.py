"""The ipywidgets of a :class:`~nbtrack.ui._runs_table.RunTable`: built once, synced from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w  # type: ignore[import-untyped]

from nbtrack.ui._html import esc

if TYPE_CHECKING:
    from nbtrack.ui._runs_table import RunTable

NEWEST = "(newest first)"


def build(table: RunTable) -> dict[str, Any]:
    """Create the widgets of ``table`` and wire their events to its methods."""
    height = w.Layout(height="27px", margin="0")
    parts: dict[str, Any] = {
        "filter": w.Text(
            value=table.filter_string,
            placeholder="filter, e.g. metrics.acc > 0.9 AND params.lr = '0.1'",
            continuous_update=False,
            layout=w.Layout(width="60%"),
        ),
        "apply": w.Button(description="Apply", tooltip="apply the filter"),
        "refresh": w.Button(description="Refresh", icon="refresh"),
        "error": w.HTML(),
        "sort": w.Dropdown(description="sort by", options=[NEWEST]),
        "order": w.ToggleButtons(options=["desc", "asc"], value="desc"),
        "prev": w.Button(description="◀ prev"),
        "next": w.Button(description="next ▶"),
        "status": w.Label(),
        "compare": w.Button(description="Compare selected", button_style="info"),
        "table": w.HTML(),
        "checks": [],
        "output": w.Output(),
        "syncing": False,
    }
    spacer = w.HTML(value="", layout=height)
    # A flex item may shrink to nothing when the table beside it is wider than the output.
    check_column = w.VBox(
        [spacer], layout=w.Layout(width="28px", min_width="28px", flex="0 0 auto")
    )

    def on_filter(_change: Any = None) -> None:
        table.apply_filter(parts["filter"].value)

    def on_sort(_change: Any) -> None:
        if parts["syncing"]:
            return
        column = parts["sort"].value
        table.sort_by(None if column == NEWEST else column, parts["order"].value == "desc")

    def on_check(index: int) -> Any:
        def handler(change: Any) -> None:
            if parts["syncing"] or index >= len(table.page.runs):
                return
            table.select(table.page.runs[index].info.run_id, bool(change["new"]))

        return handler

    def on_compare(_button: Any) -> None:
        out = parts["output"]
        out.clear_output()
        if len(table.selected) < 1:
            table.error = "check at least one run to compare"
            sync(table, parts)
            return
        with out:
            from nbtrack.ui._display import show

            show(table.compare_selected())

    parts["filter"].observe(on_filter, names="value")
    parts["apply"].on_click(on_filter)
    parts["refresh"].on_click(lambda _b: table.refresh())
    parts["sort"].observe(on_sort, names="value")
    parts["order"].observe(on_sort, names="value")
    parts["prev"].on_click(lambda _b: table.previous_page())
    parts["next"].on_click(lambda _b: table.next_page())
    parts["compare"].on_click(on_compare)

    def add_checks(count: int) -> None:
        # One checkbox per shown row; a page with a sweep's children grouped
        # under their parent can hold more rows than page_size.
        while len(parts["checks"]) < count:
            box = w.Checkbox(
                value=False, indent=False, layout=w.Layout(height="27px", width="24px")
            )
            box.observe(on_check(len(parts["checks"])), names="value")
            parts["checks"].append(box)
        check_column.children = [spacer, *parts["checks"]]

    parts["add_checks"] = add_checks
    add_checks(table.page_size)
    parts["root"] = w.VBox(
        [
            w.HBox([parts["filter"], parts["apply"], parts["refresh"]]),
            parts["error"],
            w.HBox([parts["sort"], parts["order"]]),
            w.HBox([check_column, parts["table"]], layout=w.Layout(overflow="auto")),
            w.HBox([parts["prev"], parts["status"], parts["next"], parts["compare"]]),
            parts["output"],
        ]
    )
    parts["root"].add_class("nbtrack-runs")
    return parts


def sync(table: RunTable, parts: dict[str, Any]) -> None:
    """Push ``table``'s state into its widgets (events they raise meanwhile are ignored)."""
    parts["syncing"] = True
    try:
        parts["table"].value = table.html()
        parts["error"].value = f'<pre class="err">{esc(table.error)}</pre>' if table.error else ""
        parts["status"].value = table.status_line()
        columns = table.columns()
        label = table._sort_label() if table.sort is not None else NEWEST
        options = [NEWEST, *columns]
        if label not in options:
            options.append(label)
        parts["sort"].options = options
        parts["sort"].value = label
        parts["order"].value = "desc" if table.descending else "asc"
        parts["prev"].disabled = table.offset == 0
        parts["next"].disabled = table.offset + table.page_size >= table.page.total
        if len(parts["checks"]) < len(table.page.runs):
            parts["add_checks"](len(table.page.runs))
        for i, box in enumerate(parts["checks"]):
            if i < len(table.page.runs):
                box.layout.display = None  # rows without a run take no space
                box.value = table.page.runs[i].info.run_id in table.selected
                box.description_allow_html = False
            else:
                box.layout.display = "none"
                box.value = False
    finally:
        parts["syncing"] = False
