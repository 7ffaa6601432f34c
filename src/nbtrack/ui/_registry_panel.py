"""The registry panel: registered models, their versions, source runs and metrics.

:class:`RegistryPanel` holds the state (the listed models, the selected
version, the action waiting for confirmation, the last outcome); its
ipywidgets (:mod:`nbtrack.ui._registry_widget`) are built on first use and
synced from it, so without a widget frontend the same object prints a text
listing. Setting an alias or moving a stage changes nothing until
:meth:`RegistryPanel.confirm`; the change then goes through the registry
client, which records it in the audit trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nbtrack._table import format_table
from nbtrack.entities import LifecycleStage, Run
from nbtrack.exceptions import InvalidInputError, NbtrackError, NotFoundError

# The registry's TrackingClient (nbtrack.TrackingClient): the one with the registry's
# methods. Not imported from the package root, which sits above every layer.
from nbtrack.registry import Stage, TrackingClient
from nbtrack.registry._names import alias_name, parse_version
from nbtrack.store.search import quote_string
from nbtrack.ui._html import esc, fmt_number, fmt_time, panel, table
from nbtrack.ui._widget_panel import WidgetPanel

if TYPE_CHECKING:
    from nbtrack.registry import ModelVersion, RegisteredModel, RegistryEvent
    from nbtrack.ui._compare import ComparePanel

#: The stages a version can be moved to (MLflow's).
STAGES = [s.value for s in Stage]
MAX_METRICS = 8  # metric columns per model; the others are counted, not shown
HISTORY = 5  # recent audit events shown per model
_EVENTS_SCANNED = 500  # audit events read when listing every model


@dataclass(frozen=True)
class VersionEntry:
    """A version with its source run (None: registered from a directory, or run removed)."""

    version: ModelVersion
    run: Run | None

    @property
    def run_label(self) -> str:
        """The source run's name and short id, marked when it was deleted."""
        run_id = self.version.run_id
        if run_id is None:
            return ""
        if self.run is None:
            return f"{run_id[:8]} (run removed)"
        deleted = self.run.info.lifecycle_stage == LifecycleStage.DELETED.value
        return f"{self.run.info.run_name} ({run_id[:8]}){' (deleted)' if deleted else ''}"

    @property
    def label(self) -> str:
        """``2 · Production · @champion``: how the version dropdown names it."""
        parts = [str(self.version.version), self.version.current_stage]
        parts += [f"@{a}" for a in self.version.aliases]
        return " · ".join(parts)


@dataclass(frozen=True)
class ModelEntry:
    """A registered model, its newest versions and its recent audit events (newest first)."""

    model: RegisteredModel
    versions: list[VersionEntry]
    total_versions: int
    history: list[RegistryEvent]

    def version(self, number: int | str) -> VersionEntry:
        """The listed version ``number`` (``3`` or ``'3'``)."""
        wanted = parse_version(number)
        for entry in self.versions:
            if entry.version.version == wanted:
                return entry
        raise NotFoundError(f"model {self.model.name!r} has no listed version {number!r}")

    def metric_keys(self) -> list[str]:
        """Metric names of the source runs, sorted (every one, shown or not)."""
        return sorted({k for v in self.versions if v.run for k in v.run.data.metrics})

    def source_run_ids(self, versions: Sequence[int | str] | None = None) -> list[str]:
        """Distinct source runs that still exist, newest version first."""
        wanted = None if versions is None else {parse_version(v) for v in versions}
        found: dict[str, None] = {}
        for entry in self.versions:
            if entry.run is not None and (wanted is None or entry.version.version in wanted):
                found[entry.run.info.run_id] = None
        return list(found)


@dataclass(frozen=True)
class PendingAction:
    """An alias or stage change waiting for confirmation.

    ``before`` is what the change replaces (the version the alias points at,
    or the version's stage) as seen when it was asked for: if it differs at
    confirmation time, someone changed the registry meanwhile and nothing is done.
    """

    kind: str  # "alias" or "stage"
    model: str
    version: int
    target: str  # the alias, or the stage
    before: str | None
    archive_existing: bool = False

    def describe(self) -> str:
        """What confirming will do, as one sentence."""
        if self.kind == "alias":
            now = f"it points at version {self.before}" if self.before else "a new alias"
            return (
                f"Point alias {self.target!r} of {self.model!r} at version {self.version} ({now})?"
            )
        archive = (
            f"; other {self.target} versions will be archived" if self.archive_existing else ""
        )
        return (
            f"Move {self.model!r} version {self.version} from {self.before} to "
            f"{self.target}{archive}?"
        )


class RegistryPanel(WidgetPanel):
    """Registered models (or one of them) with versions, source runs and their metrics.

    Use :func:`nbtrack.ui.registry` to open one. Actions (:meth:`request_alias`,
    :meth:`request_stage`) wait in :attr:`pending` until :meth:`confirm`;
    errors are shown in :attr:`error` rather than raised. :attr:`controls`
    holds the widgets by role (``model``, ``version``, ``alias``, ``set_alias``,
    ``stage``, ``archive``, ``transition``, ``confirm``, ``cancel``, ``compare``...).
    """

    widget_module = "nbtrack.ui._registry_widget"

    def __init__(
        self,
        name: str | None = None,
        client: TrackingClient | None = None,
        max_models: int = 100,
        max_versions: int = 20,
    ) -> None:
        self.client = client or TrackingClient()
        self.name = name
        self.max_models = max_models
        self.max_versions = max_versions
        self.entries: list[ModelEntry] = []
        self.selected_model: str | None = None
        self.selected_version: int | None = None
        self.pending: PendingAction | None = None
        self.message = ""
        self.error = ""
        self.compared: ComparePanel | None = None
        if name is not None:
            self.client.get_registered_model(name)  # an unknown name is an error now
        self.refresh()

    # -- reading ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the registry again (picks up versions and changes made since)."""
        client = self.client
        if self.name is not None:
            try:
                models = [client.get_registered_model(self.name)]
            except NotFoundError as exc:  # deleted since the panel opened
                models, self.error = [], str(exc)
            history = client.get_registry_history(self.name, HISTORY)
        else:
            models = client.search_registered_models(max_results=self.max_models)
            history = client.get_registry_history(None, _EVENTS_SCANNED)
        versions: dict[str, list[ModelVersion]] = {m.name: [] for m in models}
        if models:
            names = ", ".join(quote_string(m.name) for m in models)
            for version in client.search_model_versions(f"name IN ({names})", max_results=None):
                versions[version.name].append(version)
        runs: dict[str, Run | None] = {}
        self.entries = []
        for model in models:
            newest = sorted(versions[model.name], key=lambda v: -v.version)
            shown = newest[: self.max_versions]
            for version in shown:
                if version.run_id is not None and version.run_id not in runs:
                    runs[version.run_id] = self._run(version.run_id)
            events = [e for e in reversed(history) if e.name == model.name][:HISTORY]
            entries = [VersionEntry(v, runs.get(v.run_id) if v.run_id else None) for v in shown]
            self.entries.append(ModelEntry(model, entries, len(newest), events))
        self._keep_selection()
        self._sync()

    def _run(self, run_id: str) -> Run | None:
        try:
            return self.client.get_run(run_id)
        except NotFoundError:  # removed by gc: the version keeps its own files
            return None

    def _keep_selection(self) -> None:
        names = [e.model.name for e in self.entries]
        if self.selected_model not in names:
            self.selected_model = names[0] if names else None
            self.selected_version = None
        entry = self.selected_entry
        numbers = [v.version.version for v in entry.versions] if entry else []
        if self.selected_version not in numbers:
            self.selected_version = numbers[0] if numbers else None

    def entry(self, model: str) -> ModelEntry:
        """The listed model called ``model``."""
        for entry in self.entries:
            if entry.model.name == model:
                return entry
        raise NotFoundError(f"the panel does not list a registered model named {model!r}")

    @property
    def selected_entry(self) -> ModelEntry | None:
        """The model the action buttons apply to."""
        return next((e for e in self.entries if e.model.name == self.selected_model), None)

    def select(self, model: str, version: str | int | None = None) -> None:
        """Choose the model (and version: default its newest) the buttons act on."""
        entry = self.entry(model)
        number = entry.version(version).version.version if version is not None else None
        if number is None and entry.versions:
            number = entry.versions[0].version.version
        self.selected_model, self.selected_version = model, number
        self._sync()

    # -- actions ------------------------------------------------------------------------

    def request_alias(self, model: str, version: str | int, alias: str) -> PendingAction | None:
        """Ask to point ``alias`` at a version; nothing changes until :meth:`confirm`."""
        try:
            alias = alias_name(alias.strip() if isinstance(alias, str) else alias)
            entry = self.entry(model)
            number = entry.version(version).version.version
        except NbtrackError as exc:
            self._refuse(exc)
            return None
        before = entry.model.aliases.get(alias)
        if before == str(number):
            self._refuse(InvalidInputError(f"alias {alias!r} already points at {number}"))
            return None
        return self._ask(PendingAction("alias", model, number, alias, before))

    def request_stage(
        self, model: str, version: str | int, stage: str, archive_existing: bool = False
    ) -> PendingAction | None:
        """Ask to move a version to ``stage``; nothing changes until :meth:`confirm`."""
        try:
            target = Stage.parse(stage).value
            found = self.entry(model).version(version).version
        except NbtrackError as exc:
            self._refuse(exc)
            return None
        if found.current_stage == target and not archive_existing:
            self._refuse(
                InvalidInputError(f"{model!r} version {found.version} is already in {target}")
            )
            return None
        action = PendingAction(
            "stage", model, found.version, target, found.current_stage, bool(archive_existing)
        )
        return self._ask(action)

    def _ask(self, action: PendingAction) -> PendingAction:
        self.pending, self.error, self.message = action, "", ""
        self._sync()
        return action

    def _refuse(self, exc: NbtrackError) -> None:
        self.pending, self.error, self.message = None, str(exc), ""
        self._sync()

    def cancel(self) -> None:
        """Drop the action waiting for confirmation."""
        if self.pending is not None:
            self.message = "cancelled: nothing was changed"
        self.pending, self.error = None, ""
        self._sync()

    def confirm(self) -> ModelVersion | None:
        """Carry out the pending action; the changed version, or None (see :attr:`error`)."""
        action, self.pending = self.pending, None
        if action is None:
            self._refuse(InvalidInputError("nothing to confirm: set an alias or a stage first"))
            return None
        try:
            now = self._current(action)
            if now != action.before:
                raise InvalidInputError(
                    f"the registry changed since you asked (now {now or 'unset'}, was "
                    f"{action.before or 'unset'}); nothing was changed: review and ask again"
                )
            changed = self._apply(action)
        except NbtrackError as exc:
            self.error, self.message = str(exc), ""
            self.refresh()
            return None
        self.error = ""
        if action.kind == "alias":
            self.message = f"alias {action.target!r} now points at version {changed.version}"
        else:
            self.message = f"version {changed.version} is now in {changed.current_stage}"
        self.message = f"{action.model!r}: {self.message}"
        self.refresh()
        return changed

    def _current(self, action: PendingAction) -> str | None:
        client = self.client
        if action.kind == "alias":
            return client.get_registered_model(action.model).aliases.get(action.target)
        return client.get_model_version(action.model, action.version).current_stage

    def _apply(self, action: PendingAction) -> ModelVersion:
        client = self.client
        if action.kind == "alias":
            client.set_registered_model_alias(action.model, action.target, action.version)
            return client.get_model_version(action.model, action.version)
        return client.transition_model_version_stage(
            action.model, action.version, action.target, action.archive_existing
        )

    def compare_versions(
        self, model: str, versions: Sequence[str | int] | None = None
    ) -> ComparePanel | None:
        """Open :func:`nbtrack.ui.compare` on the source runs of the model's versions."""
        from nbtrack.ui._compare import compare

        try:
            entry = self.entry(model)
            run_ids = entry.source_run_ids(versions)
            if not run_ids:
                raise InvalidInputError(
                    f"no source run to compare for {model!r}: its versions were registered "
                    "from a directory, or their runs were removed"
                )
            self.compared = compare(run_ids, client=self.client)
        except NbtrackError as exc:
            self._refuse(exc)
            return None
        self.error = ""
        self._sync()
        return self.compared

    # -- content ------------------------------------------------------------------------

    def version_rows(self, entry: ModelEntry) -> tuple[list[str], list[list[str]]]:
        """Header and rows of a model's version table (plain strings)."""
        keys = entry.metric_keys()[:MAX_METRICS]
        header = ["version", "stage", "aliases", "source run", "status", "registered"]
        header += [*keys, "description"]
        rows = []
        for item in entry.versions:
            version, run = item.version, item.run
            metrics = run.data.metrics if run else {}
            rows.append(
                [
                    str(version.version),
                    version.current_stage,
                    ", ".join(f"@{a}" for a in version.aliases),
                    item.run_label,
                    run.info.status if run else "",
                    fmt_time(version.creation_timestamp),
                    *(fmt_number(metrics.get(k)) for k in keys),
                    version.description or "",
                ]
            )
        return header, rows

    def _notes(self, entry: ModelEntry) -> list[str]:
        notes = []
        hidden = len(entry.metric_keys()) - MAX_METRICS
        if hidden > 0:
            notes.append(f"{hidden} more metrics not shown")
        older = entry.total_versions - len(entry.versions)
        if older > 0:
            notes.append(f"{older} older versions not shown")
        return notes

    @staticmethod
    def event_text(event: RegistryEvent) -> str:
        """One audit event as a line: when, who, what."""
        what = event.action.replace("_", " ")
        if event.version is not None:
            what += f" v{event.version}"
        if event.key:
            what += f" {event.key}"
        if event.from_value is not None or event.to_value is not None:
            what += f": {event.from_value or '∅'} → {event.to_value or '∅'}"
        return f"{fmt_time(event.timestamp)} {event.user_id}@{event.host} {what}"

    def model_html(self, entry: ModelEntry) -> str:
        """One model: heading, description, aliases, tags, version table, recent changes."""
        model = entry.model
        parts = [f'<h4 class="nbtrack-model" data-model="{esc(model.name)}">{esc(model.name)}</h4>']
        if model.description:
            parts.append(f"<p>{esc(model.description)}</p>")
        if model.aliases:
            aliases = ", ".join(
                f"<code>@{esc(a)}</code> → v{esc(v)}" for a, v in model.aliases.items()
            )
            parts.append(f"<p>aliases: {aliases}</p>")
        if model.tags:
            tags = ", ".join(f"<code>{esc(k)}={esc(v)}</code>" for k, v in model.tags.items())
            parts.append(f"<p>tags: {tags}</p>")
        if entry.versions:
            header, rows = self.version_rows(entry)
            parts.append(table(header, rows, attrs=' class="nbtrack-versions"'))
        else:
            parts.append("<p>no versions</p>")
        parts += [f"<p><i>{esc(n)}</i></p>" for n in self._notes(entry)]
        if entry.history:
            items = "".join(f"<li>{esc(self.event_text(e))}</li>" for e in entry.history)
            parts.append(f"<details><summary>recent changes</summary><ul>{items}</ul></details>")
        return "".join(parts)

    def html(self) -> str:
        """Every listed model as one escaped panel."""
        if not self.entries:
            return panel(f"<p>{esc(_EMPTY)}</p>")
        return panel(*(self.model_html(e) for e in self.entries))

    def text(self) -> str:
        """The listing as plain text (terminals)."""
        if not self.entries:
            return _EMPTY
        blocks = []
        for entry in self.entries:
            model = entry.model
            lines = [
                f"model {model.name!r}" + (f": {model.description}" if model.description else "")
            ]
            if model.aliases:
                aliases = ", ".join(f"@{a} -> v{v}" for a, v in model.aliases.items())
                lines.append(f"  aliases: {aliases}")
            if entry.versions:
                header, rows = self.version_rows(entry)
                lines.append(format_table(header, rows, indent=2))
            else:
                lines.append("  no versions")
            lines += [f"  ({n})" for n in self._notes(entry)]
            if entry.history:
                lines.append("  recent changes:")
                lines += [f"    {self.event_text(e)}" for e in entry.history]
            blocks.append("\n".join(lines))
        status = [f"pending: {self.pending.describe()}"] if self.pending else []
        status += [line for line in (self.message, self.error and f"error: {self.error}") if line]
        return "\n\n".join(blocks + (["\n".join(status)] if status else []))


_EMPTY = (
    "no registered models yet: register one with nbtrack.register_model(model_uri, name) "
    "or %track register MODEL NAME"
)


def registry(
    name: str | None = None,
    client: TrackingClient | None = None,
    max_versions: int = 20,
) -> RegistryPanel:
    """Open the registry panel: every registered model, or only ``name``.

    Each model lists its newest ``max_versions`` versions with stage, aliases,
    source run and that run's metrics. In a notebook, buttons set an alias or
    move a stage (after a confirmation in the panel) and compare the versions'
    source runs; in a terminal the panel prints as text.
    """
    return RegistryPanel(name, client=client, max_versions=max_versions)
