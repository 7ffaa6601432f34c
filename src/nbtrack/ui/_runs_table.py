"""The run table: a paged, sortable, filterable view over ``search_runs``.

Only the shown page is queried (``LIMIT``/``OFFSET`` plus one ``COUNT``), so
the table opens as fast on 10,000 runs as on 10. State lives in
:class:`RunTable` itself; the ipywidgets (filter box, sort, paging buttons,
one checkbox per row) are built on first use and synced from that state, so
without a widget frontend the same object prints a static text table.
"""

from __future__ import annotations

from nbtrack._table import format_table
from nbtrack.client import TrackingClient
from nbtrack.entities import Run
from nbtrack.exceptions import NbtrackError, NotFoundError
from nbtrack.fluent import NOTE_TAG
from nbtrack.ui import _compare, _data
from nbtrack.ui._compare import ComparePanel
from nbtrack.ui._html import esc, fmt_duration, fmt_number, fmt_time, panel
from nbtrack.ui._widget_panel import WidgetPanel

_BASE_COLUMNS = [("status", "attribute"), ("name", "attribute"), ("start", "attribute")]
_BASE_COLUMNS.append(("duration", "attribute"))
ROW_HEIGHT = "27px"


def _is_system_tag(key: str) -> bool:
    return key.startswith(("mlflow.", "nbtrack.")) and key != NOTE_TAG


class RunTable(WidgetPanel):
    """A page of runs with sort, filter, paging, refresh and row selection.

    Use :func:`nbtrack.ui.runs` to open one. ``selected_run_ids`` lists the
    checked rows (across pages), in the order they were checked.
    """

    widget_module = "nbtrack.ui._runs_widget"

    def __init__(
        self,
        client: TrackingClient | None = None,
        filter_string: str | None = None,
        experiment: str | None = None,
        page_size: int = 50,
        group_children: bool = True,
    ) -> None:
        # Reading never creates a store: without a client the table reads read-only
        # and, until a run is logged, says where no store is yet.
        self._writer_client = client
        self.client = client or TrackingClient(readonly=True)
        #: Show child runs (a sweep's combinations) indented under their parent.
        self.group_children = group_children
        self.experiment_ids = _data.experiment_ids(self.client, experiment)
        self.page_size = page_size
        self.filter_string = ""
        self.error = ""
        #: No store exists yet (:attr:`error` says where it will be).
        self.store_missing = False
        self.sort: tuple[str, str] | None = None
        self.descending = True
        self.offset = 0
        self.page = _data.RunPage([], 0, 0)
        self.selected: dict[str, str] = {}
        self._compare: ComparePanel | None = None
        self.refresh()
        if filter_string:
            self.apply_filter(filter_string)
            if self.error:
                raise NbtrackError(self.error)

    # -- state changes ----------------------------------------------------------------

    def refresh(self) -> None:
        """Query the shown page again (picks up runs logged since)."""
        try:
            self.page = self.client.queries.run_page(
                self.experiment_ids,
                self.filter_string or None,
                self.sort,
                self.descending,
                self.offset,
                self.page_size,
            )
        except NotFoundError as exc:  # the read-only default client: no store yet
            if self._writer_client is not None:
                raise
            self.page, self.store_missing, self.error = _data.RunPage([], 0, 0), True, str(exc)
            self._sync()
            return
        if self.store_missing:
            self.store_missing, self.error = False, ""
        if self.group_children:
            self.page = self.client.queries.with_children(self.page)
        self._sync()

    def apply_filter(self, text: str) -> None:
        """Show runs matching ``text``; a bad filter sets :attr:`error` and keeps the page."""
        previous = (self.filter_string, self.offset)
        self.filter_string, self.offset = text.strip(), 0
        try:
            self.refresh()
        except NbtrackError as exc:  # FilterSyntaxError and friends: shown, not raised
            self.filter_string, self.offset = previous
            self.error = str(exc)
            self._sync()
            return
        self.error = ""
        self._sync()

    def sort_by(self, column: str | None, descending: bool = True) -> None:
        """Sort by a column label (``name``, ``params.lr``, ``metrics.acc``...); None: newest."""
        if column is None:
            self.sort = None
        elif column in _data.ATTRIBUTE_SORT:
            self.sort = ("attribute", column)
        else:
            entity, _, key = column.partition(".")
            if entity not in ("params", "metrics", "tags") or not key:
                raise NbtrackError(f"cannot sort by {column!r}")
            self.sort = (entity[:-1], key)
        self.descending, self.offset = descending, 0
        self.refresh()

    def next_page(self) -> None:
        """Show the next page (no-op on the last one)."""
        if self.offset + self.page_size < self.page.total:
            self.offset += self.page_size
            self.refresh()

    def previous_page(self) -> None:
        """Show the previous page (no-op on the first one)."""
        if self.offset > 0:
            self.offset = max(0, self.offset - self.page_size)
            self.refresh()

    def select(self, run_id: str, selected: bool = True) -> None:
        """Check or uncheck a run (it need not be on the shown page)."""
        if selected:
            names = {r.info.run_id: r.info.run_name for r in self.page.runs}
            self.selected[run_id] = names.get(run_id, run_id)
        else:
            self.selected.pop(run_id, None)
        self._sync()

    @property
    def selected_run_ids(self) -> list[str]:
        """The checked runs, in the order they were checked."""
        return list(self.selected)

    # -- content ----------------------------------------------------------------------

    def columns(self) -> list[str]:
        """Column labels of the shown page: attributes, then params, metrics and tags."""
        params: dict[str, None] = {}
        metrics: dict[str, None] = {}
        tags: dict[str, None] = {}
        for run in self.page.runs:
            params.update(dict.fromkeys(sorted(run.data.params)))
            metrics.update(dict.fromkeys(sorted(run.data.metrics)))
            tags.update(dict.fromkeys(k for k in sorted(run.data.tags) if not _is_system_tag(k)))
        return [
            *(c for c, _ in _BASE_COLUMNS),
            *(f"params.{k}" for k in params),
            *(f"metrics.{k}" for k in metrics),
            *("note" if k == NOTE_TAG else f"tags.{k}" for k in tags),
        ]

    def rows(self) -> list[list[str]]:
        """The shown page as strings, one list per run, in :meth:`columns` order."""
        return [_row(run, self.columns()) for run in self.page.runs]

    def status_line(self) -> str:
        """``runs 51-100 of 10000 · sorted by ... · 2 selected``."""
        total, first = self.page.total, self.offset + 1 if self.page.runs else 0
        last = self.offset + len(self.page.runs)
        order = "newest first" if self.sort is None else f"sorted by {self._sort_label()}"
        if self.sort is not None:
            order += " (desc)" if self.descending else " (asc)"
        return f"runs {first}-{last} of {total} · {order} · {len(self.selected)} selected"

    def _sort_label(self) -> str:
        if self.sort is None:
            return "newest"
        kind, key = self.sort
        return key if kind == "attribute" else f"{kind}s.{key}"

    def html(self) -> str:
        """The shown page as an escaped HTML table."""
        columns = self.columns()
        head = "".join(f"<th>{esc(c)}</th>" for c in columns)
        body = []
        for run in self.page.runs:
            cells = "".join(f'<td title="{esc(v)}">{esc(v)}</td>' for v in _row(run, columns))
            body.append(f'<tr data-run-id="{esc(run.info.run_id)}">{cells}</tr>')
        if not body:
            body.append(f'<tr><td colspan="{len(columns)}">no runs match</td></tr>')
        table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        return panel(table)

    def text(self) -> str:
        """The shown page as a plain-text table (terminals)."""
        columns = self.columns()
        body = format_table(columns, self.rows()) if self.page.runs else "no runs match"
        label = "" if self.store_missing else "filter error: "
        error = f"\n{label}{self.error}" if self.error else ""
        return f"{body}\n{self.status_line()}{error}"

    def compare_selected(self) -> ComparePanel:
        """Open the compare panel on the checked runs."""
        # A writing client (the default one) so that values still queued are read too.
        self._compare = ComparePanel(self.selected_run_ids, client=self._writer_client)
        return self._compare


def _row(run: Run, columns: list[str]) -> list[str]:
    info, data = run.info, run.data
    out = []
    for column in columns:
        if column == "status":
            out.append(info.status)
        elif column == "name":
            # A child run shown under its parent (see Queries.with_children).
            out.append(f"↳ {info.run_name}" if info.parent_run_id else info.run_name)
        elif column == "start":
            out.append(fmt_time(info.start_time))
        elif column == "duration":
            out.append(fmt_duration(info.start_time, info.end_time))
        elif column == "note":
            out.append(data.tags.get(NOTE_TAG, ""))
        else:
            entity, _, key = column.partition(".")
            if entity == "metrics":
                value = data.metrics.get(key)
                out.append(fmt_number(value) if value is not None else "")
            else:
                out.append((data.params if entity == "params" else data.tags).get(key, ""))
    return out


def open_table(
    filter: str | None = None,  # the search filter (MLflow's grammar)
    experiment: str | None = None,
    page_size: int = 50,
    client: TrackingClient | None = None,
    group_children: bool = True,
) -> RunTable:
    """Open a run table and remember it for ``%track compare``.

    A parent run (e.g. a sweep) is followed by its child runs, marked ``↳``,
    unless ``group_children=False``.
    """
    table = RunTable(client, filter, experiment, page_size, group_children)
    _compare.LAST_TABLE = table
    return table
