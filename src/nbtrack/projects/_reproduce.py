"""``nbtrack reproduce``: run a run's notebook again and say whether the results agree.

The notebook is the run's ``notebook.ipynb`` snapshot (``order="file"``: top
to bottom), or its ``executed.ipynb`` (``order="executed"``: the cells in the
order they actually ran, repeats included, after the snapshot's cells that ran
before the run started; see :func:`executed_order`). The parameters are the ones the
original run injected (``parameters.json``), else the run's params that the
snapshot's parameters cell defines. The new run carries the tag
``nbtrack.reproduces=<run id>`` and a ``reproduce.json`` artifact: each final
metric old/new/delta, the environment differences, the verdict.
"""

from __future__ import annotations

import ast
import copy
import itertools
import json
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from nbtrack._artifact_names import ENVIRONMENT_FILE, EXECUTED_FILE, SNAPSHOT_FILE
from nbtrack.client import TrackingClient
from nbtrack.entities import CellEvent, Run, RunStatus
from nbtrack.exceptions import InvalidInputError, NotFoundError
from nbtrack.notebook._notebook_json import InvalidNotebookError, parse_notebook
from nbtrack.projects import _parameters
from nbtrack.projects._execute import CellFailure
from nbtrack.projects._run import PARAMETERS_FILE, NotebookExecutionError, run_notebook

REPORT_FILE = "reproduce.json"
REPRODUCES_TAG = "nbtrack.reproduces"
ORDERS = ("file", "executed")


@dataclass(frozen=True, slots=True)
class MetricComparison:
    """A final metric of the original run and of the reproduction."""

    key: str
    old: float | None
    new: float | None
    agree: bool

    @property
    def delta(self) -> float | None:
        """``new - old`` (None when either is missing)."""
        if self.old is None or self.new is None:
            return None
        return self.new - self.old


@dataclass(frozen=True, slots=True)
class EnvironmentDiff:
    """What differs between the environments of two runs (empty fields: nothing)."""

    python: tuple[str | None, str | None] | None = None
    packages_added: dict[str, str] = field(default_factory=dict)
    packages_removed: dict[str, str] = field(default_factory=dict)
    packages_changed: dict[str, tuple[str, str]] = field(default_factory=dict)
    git_commit: tuple[str | None, str | None] | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        """Whether nothing differs (and both records were found)."""
        return not (
            self.python
            or self.packages_added
            or self.packages_removed
            or self.packages_changed
            or self.git_commit
            or self.missing
        )


@dataclass(frozen=True, slots=True)
class ReproduceReport:
    """The outcome of :func:`reproduce`; ``ok`` is the yes/no answer."""

    original: Run
    run: Run
    tolerance: float
    order: str
    metrics: list[MetricComparison]
    environment: EnvironmentDiff
    warnings: list[str]
    failure: CellFailure | None = None

    @property
    def ok(self) -> bool:
        """The new run finished and every final metric agrees within the tolerance."""
        return self.run.info.status == RunStatus.FINISHED and all(m.agree for m in self.metrics)

    def to_dict(self) -> dict[str, Any]:
        """The report as stored in ``reproduce.json``."""
        return {
            "original_run_id": self.original.info.run_id,
            "run_id": self.run.info.run_id,
            "status": self.run.info.status,
            "order": self.order,
            "tolerance": self.tolerance,
            "ok": self.ok,
            "metrics": [{**asdict(m), "delta": m.delta} for m in self.metrics],
            "environment": asdict(self.environment),
            "warnings": self.warnings,
            "failure": asdict(self.failure) if self.failure is not None else None,
        }


def agree(old: float, new: float, tolerance: float) -> bool:
    """Whether two metric values agree: within ``tolerance``, absolute or relative."""
    if math.isnan(old) or math.isnan(new):
        return math.isnan(old) and math.isnan(new)
    return math.isclose(old, new, rel_tol=tolerance, abs_tol=tolerance)


def compare_metrics(
    old: dict[str, float], new: dict[str, float], tolerance: float
) -> list[MetricComparison]:
    """Each final metric of either run, old vs new (a metric missing on one side disagrees)."""
    rows = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        rows.append(
            MetricComparison(key, a, b, a is not None and b is not None and agree(a, b, tolerance))
        )
    return rows


def compare_environments(old: dict[str, Any] | None, new: dict[str, Any] | None) -> EnvironmentDiff:
    """Python version, packages added/removed/changed and git commit between two records."""
    missing = [side for side, env in (("original", old), ("new", new)) if env is None]
    if old is None or new is None:
        return EnvironmentDiff(missing=missing)
    py_old = (old.get("python") or {}).get("version")
    py_new = (new.get("python") or {}).get("version")
    pk_old: dict[str, str] = old.get("packages") or {}
    pk_new: dict[str, str] = new.get("packages") or {}
    commit_old = (old.get("git") or {}).get("commit")
    commit_new = (new.get("git") or {}).get("commit")
    return EnvironmentDiff(
        python=(py_old, py_new) if py_old != py_new else None,
        packages_added={k: v for k, v in pk_new.items() if k not in pk_old},
        packages_removed={k: v for k, v in pk_old.items() if k not in pk_new},
        packages_changed={
            k: (v, pk_new[k]) for k, v in pk_old.items() if k in pk_new and pk_new[k] != v
        },
        git_commit=(commit_old, commit_new) if commit_old != commit_new else None,
    )


def execution_order_problems(
    events: Sequence[CellEvent], notebook: NotebookNode | None = None
) -> list[str]:
    """Signs of hidden state in a run's cell timeline: out-of-order or repeated cells.

    Looks for execution counts that do not increase (a restart or a re-run),
    the same cell (by id, else by source) run more than once, and, when the
    snapshot is given, cells that ran in another order than the file's.
    """
    problems: list[str] = []
    counts = [e.execution_count for e in events if e.execution_count is not None]
    for before, after in itertools.pairwise(counts):
        if after <= before:
            problems.append(f"execution count [{after}] came after [{before}]")
            break
    seen: dict[str, int] = {}
    for event in events:
        if event.source.strip():
            key = f"id:{event.cell_id}" if event.cell_id else f"src:{event.source}"
            seen[key] = seen.get(key, 0) + 1
    repeated = [(k, n) for k, n in seen.items() if n > 1]
    for key, times in repeated[:3]:
        what = key[3:] if key.startswith("id:") else _first_line(key[4:])
        problems.append(f"cell {what!r} ran {times} times")
    if notebook is not None:
        position: dict[str, int] = {}
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                position.setdefault(f"id:{cell.get('id')}", index)
                position.setdefault(f"src:{cell.source}", index)
        last = -1
        for event in events:
            at = position.get(f"id:{event.cell_id}", position.get(f"src:{event.source}"))
            if at is None:
                continue
            if at < last:
                problems.append(f"cell {at} ({_first_line(event.source)!r}) ran after cell {last}")
                break
            last = at
    return problems


def _position(notebook: NotebookNode, event: CellEvent) -> int | None:
    for index, cell in enumerate(notebook.cells):
        if event.cell_id and cell.get("id") == event.cell_id:
            return index
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and cell.source == event.source:
            return index
    return None


def executed_order(
    snapshot: NotebookNode, executed: NotebookNode, events: Sequence[CellEvent]
) -> NotebookNode:
    """The cells as they ran, after the snapshot's cells above the first recorded one.

    The timeline starts when the run started: cells run before (imports, the
    ``%load_ext nbtrack``/``%track start`` cell) are not in it, so they are
    run first, in file order.
    """
    result = copy.deepcopy(executed)
    start = _position(snapshot, events[0]) if events else None
    if not start:
        return result
    used = {cell.get("id") for cell in result.cells}
    prefix = copy.deepcopy(snapshot.cells[:start])
    for cell in prefix:
        if cell.get("id") in used:
            cell["id"] = f"{cell['id']}-setup"[:64]
    result.cells = prefix + result.cells
    return result


def _first_line(source: str) -> str:
    line = source.strip().split("\n", 1)[0]
    return line if len(line) <= 40 else line[:39] + "…"


def _read_json(client: TrackingClient, run_id: str, path: str) -> Any | None:
    try:
        return json.loads(client.read_artifact(run_id, path))
    except NotFoundError:
        return None


def _read_notebook(client: TrackingClient, run_id: str, path: str) -> NotebookNode:
    data = _read_json(client, run_id, path)
    if data is None:
        raise NotFoundError(
            f"run {run_id} has no {path} artifact to re-execute"
            + ("; try --order file" if path == EXECUTED_FILE else "")
        )
    try:
        return parse_notebook(data)
    except InvalidNotebookError as exc:
        raise InvalidInputError(
            f"the {path} of run {run_id} is not a valid notebook: {exc}"
        ) from None


def _parameters_of(client: TrackingClient, original: Run, notebook: NotebookNode) -> dict[str, Any]:
    stored = _read_json(client, original.info.run_id, PARAMETERS_FILE)
    if isinstance(stored, dict):
        return {k: ast.literal_eval(v) for k, v in stored.items()}
    declared = _parameters.find_parameters(notebook)
    return {k: v for k, v in original.data.params.items() if k in declared.parameters}


def _workdir(original: Run) -> Path:
    notebook = original.data.tags.get("nbtrack.notebook")
    if notebook and Path(notebook).parent.is_dir():
        return Path(notebook).parent
    return Path(tempfile.mkdtemp(prefix="nbtrack-reproduce-"))


def reproduce(
    run_id: str,
    *,
    tolerance: float = 0.0,
    order: str = "file",
    kernel: str | None = None,
    cell_timeout: float | None = None,
    tracking_uri: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    warn: Callable[[str], None] | None = None,
) -> ReproduceReport:
    """Execute run ``run_id``'s notebook again with its parameters; compare old and new.

    ``warn`` is called (before executing) with a message when the original's
    cell timeline shows out-of-order or repeated execution; the message also
    goes into the report. The new run is FAILED when a cell fails: the report
    then carries the failure and ``ok`` is False.
    """
    if order not in ORDERS:
        raise InvalidInputError(f"order must be 'file' or 'executed', not {order!r}")
    if tolerance < 0 or math.isnan(tolerance):
        raise InvalidInputError(f"tolerance must be a number >= 0, not {tolerance}")
    client = TrackingClient(tracking_uri)
    original = client.get_run(run_id)
    run_id = original.info.run_id
    if original.data.tags.get("nbtrack.sweep") == "true":
        raise InvalidInputError(
            f"run {run_id} is the parent of a sweep, not a notebook run; reproduce one of its "
            "children (nbtrack runs list shows them)"
        )
    snapshot = _read_notebook(client, run_id, SNAPSHOT_FILE)
    events = client.get_cell_timeline(run_id)
    notebook = snapshot
    if order == "executed":
        notebook = executed_order(snapshot, _read_notebook(client, run_id, EXECUTED_FILE), events)
    warnings: list[str] = []
    problems = execution_order_problems(events, snapshot)
    if problems:
        advice = (
            "re-executing top to bottom may not reproduce it; replay the cells in the order "
            "they ran with --order executed"
            if order == "file"
            else "replaying the cells in the order they ran (--order executed)"
        )
        warnings.append(
            f"run {run_id[:8]} did not run its cells once each, top to bottom: "
            f"{'; '.join(problems)}. Hidden state is likely: {advice}"
        )
        if warn is not None:
            warn(warnings[-1])
    notebook_tag = original.data.tags.get("nbtrack.notebook")
    failure: CellFailure | None = None
    try:
        new = run_notebook(
            notebook,
            source=Path(notebook_tag) if notebook_tag else None,
            cwd=_workdir(original),
            parameters=_parameters_of(client, original, snapshot),
            experiment_id=original.info.experiment_id,
            run_name=f"{original.info.run_name}-reproduced",
            kernel=kernel,
            cell_timeout=cell_timeout,
            allow_new=True,  # the original accepted them
            tags={REPRODUCES_TAG: run_id, "nbtrack.reproduce.order": order},
            tracking_uri=client.tracking_uri,
            progress=progress,
        )
    except NotebookExecutionError as exc:
        new, failure = exc.run, exc.failure
    report = ReproduceReport(
        original=original,
        run=new,
        tolerance=tolerance,
        order=order,
        metrics=compare_metrics(original.data.metrics, new.data.metrics, tolerance),
        environment=compare_environments(
            _read_json(client, run_id, ENVIRONMENT_FILE),
            _read_json(client, new.info.run_id, ENVIRONMENT_FILE),
        ),
        warnings=warnings,
        failure=failure,
    )
    new_id = new.info.run_id
    client.log_dict(new_id, report.to_dict(), REPORT_FILE)
    client.set_tag(new_id, "nbtrack.reproduce.ok", str(report.ok).lower())
    client.flush()
    return report
