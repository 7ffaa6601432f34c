"""``nbtrack sweep``: a parent run, and one child run per parameter combination.

The parent stores the sweep's definition in ``sweep.json`` (the notebook, every
combination as Python literals, the metric) and the notebook as
``notebook.ipynb``. Each child is a headless run (:mod:`._run`) whose
``parent_run_id`` is the parent, tagged ``nbtrack.sweep.parent`` and
``nbtrack.sweep.index``. ``resume=PARENT_ID`` runs again only the combinations
without a FINISHED child, under the same parent. The parent ends FINISHED when
every child finished, else FAILED; it gets the best child's metric value and
the tag ``nbtrack.sweep.best_run``.
"""

from __future__ import annotations

import ast
import json
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from nbtrack._artifact_names import SNAPSHOT_FILE
from nbtrack.client import TrackingClient, ViewType
from nbtrack.entities import Run, RunStatus
from nbtrack.exceptions import InvalidInputError, NotFoundError
from nbtrack.projects import _parameters
from nbtrack.projects._executors import ChildJob, ChildResult, run_jobs
from nbtrack.projects._run import (
    experiment_id_for,
    notebook_placement,
    notebook_text,
    placed,
    read_notebook,
)
from nbtrack.projects._space import Distribution, combinations

SWEEP_FILE = "sweep.json"
PARENT_TAG = "nbtrack.sweep.parent"
INDEX_TAG = "nbtrack.sweep.index"
BEST_TAG = "nbtrack.sweep.best_run"


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sweep; its parent run (KILLED) is attached."""

    def __init__(self, parent: Run) -> None:
        super().__init__(f"sweep {parent.info.run_id} was interrupted and marked KILLED")
        self.parent = parent


@dataclass(frozen=True, slots=True)
class SweepRow:
    """One combination of a sweep and its latest child run (``run_id`` None: never ran)."""

    index: int
    parameters: dict[str, str]
    run_id: str | None
    status: str
    value: float | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SweepSummary:
    """A sweep's combinations sorted by the metric (best first), and the best one."""

    parent: Run
    metric: str | None
    maximize: bool
    rows: list[SweepRow]

    @property
    def best(self) -> SweepRow | None:
        """The finished child with the best metric value (None without a metric)."""
        for row in self.rows:
            if row.status == RunStatus.FINISHED and row.value is not None:
                return row
        return None


def _literal(value: Any) -> str:
    return _parameters.literal_source(value)


@dataclass
class _Plan:
    """What a sweep runs: the notebook, the combinations and how each child runs."""

    path: Path
    notebook: NotebookNode
    combos: list[dict[str, Any]]
    metric: str | None
    maximize: bool
    kernel: str | None
    cell_timeout: float | None
    allow_new: bool


def sweep(
    notebook: str | os.PathLike[str] | None = None,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    space: Mapping[str, Distribution | str] | None = None,
    n_random: int = 0,
    seed: int | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
    metric: str | None = None,
    maximize: bool = False,
    jobs: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    dask_processes: bool = True,
    resume: str | None = None,
    kernel: str | None = None,
    cell_timeout: float | None = None,
    allow_new: bool = False,
    tracking_uri: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    on_result: Callable[[ChildResult], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Run:
    """Run ``notebook`` once per combination of ``grid`` x ``n_random`` samples of ``space``.

    Returns the ended parent run. ``jobs`` (default: the number of CPUs) runs
    that many children at once on ``executor`` ("local" or "dask";
    ``dask_processes=False`` makes a local Dask cluster use threads).
    ``resume`` (a parent run id) runs only that sweep's combinations that have
    no FINISHED child, with its settings; ``grid``/``space`` must then be left
    out. A failing child does not stop the others; the parent then ends
    FAILED. Ctrl-C marks the parent KILLED and raises :class:`SweepInterrupted`.
    The sweep goes into ``experiment``, else the one the notebook's ``%track
    start --experiment E`` names (``warn`` is called when they differ); its
    children are named after the parent (``NAME-0``, ``NAME-1``, ...).
    """
    client = TrackingClient(tracking_uri)
    if resume:
        if grid or space or n_random:
            raise InvalidInputError(
                "--resume reruns the sweep's own combinations; leave out --grid/--space/--random"
            )
        parent, spec = _load(client, resume)
        plan = _resumed_plan(
            spec,
            notebook,
            metric=metric,
            maximize=maximize,
            kernel=kernel,
            cell_timeout=cell_timeout,
            allow_new=allow_new,
        )
        _check(plan)
        client.resume_run(parent.info.run_id)
    else:
        if notebook is None:
            raise InvalidInputError("give the NOTEBOOK to sweep, or --resume SWEEP_RUN")
        path = Path(notebook).resolve()
        combos = combinations(grid, space, n_random, seed)
        plan = _Plan(path, read_notebook(path), combos, metric, maximize, kernel, cell_timeout,
                     allow_new)  # fmt: skip
        _check(plan)
        spec = {
            "metric": metric, "maximize": maximize, "seed": seed, "kernel": kernel,
            "cell_timeout": cell_timeout, "allow_new": allow_new, "n_random": n_random,
            "grid": {k: [_literal(v) for v in vs] for k, vs in (grid or {}).items()},
            "space": {k: str(v) for k, v in (space or {}).items()},
        }  # fmt: skip
        where = placed(
            notebook_placement(plan.notebook), experiment, None, warn, command="nbtrack sweep"
        )
        parent = _create_parent(client, plan, where.experiment, run_name, spec)
    n_jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    show = sys.stderr.isatty() if progress is None else progress
    try:
        results = _run_children(
            client, parent, plan, executor, n_jobs, scheduler, dask_processes, show, on_result
        )
    except KeyboardInterrupt:
        for child in _children(client, parent):  # those a stopped Dask worker left running
            if child.info.status == RunStatus.RUNNING:
                client.set_terminated(child.info.run_id, RunStatus.KILLED)
        client.set_terminated(parent.info.run_id, RunStatus.KILLED)
        raise SweepInterrupted(client.get_run(parent.info.run_id)) from None
    except BaseException:
        client.set_terminated(parent.info.run_id, RunStatus.FAILED)
        raise
    return _finish(client, parent.info.run_id, plan, results)


def _resumed_plan(
    spec: dict[str, Any],
    notebook: str | os.PathLike[str] | None,
    *,
    metric: str | None,
    maximize: bool,
    kernel: str | None,
    cell_timeout: float | None,
    allow_new: bool,
) -> _Plan:
    """The stored sweep's plan; settings given now win over the stored ones."""
    path = Path(notebook).resolve() if notebook else Path(spec["notebook"])
    return _Plan(
        path=path,
        notebook=read_notebook(path),
        combos=[{k: ast.literal_eval(v) for k, v in c.items()} for c in spec["combinations"]],
        metric=metric or spec.get("metric"),
        maximize=maximize or bool(spec.get("maximize")),
        kernel=kernel or spec.get("kernel"),
        cell_timeout=cell_timeout or spec.get("cell_timeout"),
        allow_new=allow_new or bool(spec.get("allow_new")),
    )


def _check(plan: _Plan) -> None:
    """Every combination is checked against the notebook before anything runs."""
    declared = _parameters.find_parameters(plan.notebook)
    for combo in plan.combos:
        _parameters.resolve(declared, combo, allow_new=plan.allow_new, notebook_name=plan.path.name)


def _run_children(
    client: TrackingClient,
    parent: Run,
    plan: _Plan,
    executor: str,
    n_jobs: int,
    scheduler: str | None,
    dask_processes: bool,
    progress: bool,
    on_result: Callable[[ChildResult], None] | None,
) -> list[ChildResult]:
    from tqdm import tqdm  # type: ignore[import-untyped]

    parent_id, name = parent.info.run_id, parent.info.run_name
    rows = _rows(client, parent, plan.combos, None)
    finished = {row.index for row in rows if row.status == RunStatus.FINISHED}
    jobs = [
        ChildJob(
            index=i,
            notebook=str(plan.path),
            parameters=plan.combos[i],
            experiment_id=parent.info.experiment_id,
            parent_run_id=parent_id,
            tracking_uri=client.tracking_uri,
            run_name=f"{name}-{i}",
            kernel=plan.kernel,
            cell_timeout=plan.cell_timeout,
            allow_new=plan.allow_new,
            tags={PARENT_TAG: parent_id, INDEX_TAG: str(i)},
        )
        for i in range(len(plan.combos))
        if i not in finished
    ]
    total, done_before = len(plan.combos), len(finished)
    with tqdm(total=total, initial=done_before, unit="run", desc=name, disable=not progress) as bar:

        def done(result: ChildResult) -> None:
            bar.update(1)
            if on_result is not None:
                on_result(result)

        return run_jobs(
            jobs,
            executor=executor,
            n_jobs=n_jobs,
            scheduler=scheduler,
            dask_processes=dask_processes,
            on_result=done,
        )


def _finish(client: TrackingClient, parent_id: str, plan: _Plan, results: list[ChildResult]) -> Run:
    summary = summarize(
        parent_id, plan.metric, maximize=plan.maximize, tracking_uri=client.tracking_uri
    )
    best = summary.best
    if best is not None and best.run_id is not None and plan.metric and best.value is not None:
        client.log_metric(parent_id, plan.metric, best.value)
        client.set_tag(parent_id, BEST_TAG, best.run_id)
    ok = all(r.status == RunStatus.FINISHED for r in results) and all(
        row.status == RunStatus.FINISHED for row in summary.rows
    )
    client.set_terminated(parent_id, RunStatus.FINISHED if ok else RunStatus.FAILED)
    return client.get_run(parent_id)


def _create_parent(
    client: TrackingClient,
    plan: _Plan,
    experiment: str | None,
    run_name: str | None,
    settings: dict[str, Any],
) -> Run:
    exp_id = experiment_id_for(client, experiment)
    path = plan.path
    parent = client.create_run(
        exp_id,
        run_name=run_name or f"sweep-{path.stem}",
        tags={
            "nbtrack.sweep": "true",
            "nbtrack.sweep.size": str(len(plan.combos)),
            "mlflow.source.type": "NOTEBOOK",
            "mlflow.source.name": str(path),
            "nbtrack.notebook": str(path),
        },
    )
    spec = {
        "notebook": str(path),
        "combinations": [{k: _literal(v) for k, v in c.items()} for c in plan.combos],
        **settings,
    }
    client.log_dict(parent.info.run_id, spec, SWEEP_FILE)
    client.log_text(parent.info.run_id, notebook_text(plan.notebook), SNAPSHOT_FILE)
    client.flush()
    return parent


def _load(client: TrackingClient, parent_id: str) -> tuple[Run, dict[str, Any]]:
    parent = client.get_run(parent_id)
    try:
        spec = json.loads(client.read_artifact(parent.info.run_id, SWEEP_FILE))
    except NotFoundError:
        raise InvalidInputError(
            f"run {parent_id} is not a sweep (it has no {SWEEP_FILE}); pass the id of the "
            "sweep's parent run, as printed by nbtrack sweep"
        ) from None
    return parent, spec


def _children(client: TrackingClient, parent: Run) -> list[Run]:
    return client.search_runs(
        [parent.info.experiment_id],
        f"tags.`{PARENT_TAG}` = '{parent.info.run_id}'",
        ViewType.ACTIVE_ONLY,
        max_results=None,
        order_by=["attributes.start_time ASC"],
    )


def _rows(
    client: TrackingClient, parent: Run, combos: list[dict[str, Any]], metric: str | None
) -> list[SweepRow]:
    latest: dict[int, Run] = {}
    for child in _children(client, parent):
        index = child.data.tags.get(INDEX_TAG, "")
        if index.isdigit():
            i = int(index)
            # A FINISHED child wins; among the others, the latest.
            if latest.get(i) is None or latest[i].info.status != RunStatus.FINISHED:
                latest[i] = child
    rows = []
    for i, combo in enumerate(combos):
        found = latest.get(i)
        value = found.data.metrics.get(metric) if found is not None and metric else None
        rows.append(
            SweepRow(
                index=i,
                parameters={k: _param_text(v) for k, v in combo.items()},
                run_id=found.info.run_id if found is not None else None,
                status=found.info.status if found is not None else "NOT RUN",
                value=value,
                error=found.data.tags.get("nbtrack.error") if found is not None else None,
            )
        )
    return rows


def _param_text(value: Any) -> str:
    return value if isinstance(value, str) else _literal(value)


def summarize(
    parent_run_id: str,
    metric: str | None = None,
    *,
    maximize: bool | None = None,
    tracking_uri: str | os.PathLike[str] | None = None,
) -> SweepSummary:
    """The sweep's combinations with their child runs, best ``metric`` first.

    ``metric`` and ``maximize`` default to those the sweep was started with.
    """
    client = TrackingClient(tracking_uri)
    parent, spec = _load(client, parent_run_id)
    combos = [{k: ast.literal_eval(v) for k, v in c.items()} for c in spec["combinations"]]
    metric = metric or spec.get("metric")
    if maximize is None:
        maximize = bool(spec.get("maximize"))
    rows = _rows(client, parent, combos, metric)

    def key(row: SweepRow) -> tuple[int, float, int]:
        value = row.value
        if row.status != RunStatus.FINISHED or value is None or math.isnan(value):
            return (1, 0.0, row.index)
        return (0, -value if maximize else value, row.index)

    return SweepSummary(client.get_run(parent.info.run_id), metric, maximize, sorted(rows, key=key))
