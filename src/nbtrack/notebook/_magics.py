"""``%track`` and ``%%track``: run control from notebook cells.

Errors in what the user typed (unknown sub-command, missing variable, a value
of the wrong type) surface as IPython ``UsageError``: one line in the cell,
no traceback from nbtrack's internals.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from nbtrack import fluent
from nbtrack._artifact_names import SNAPSHOT_FILE
from nbtrack.entities import RunStatus
from nbtrack.exceptions import NbtrackError
from nbtrack.notebook import _params_cell, _subcommands
from nbtrack.store import locate

if TYPE_CHECKING:
    from nbtrack.notebook._tracker import Tracker


class _HelpShown(Exception):
    """argparse printed help (``-h``); nothing else to do."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"%track: {message} (see %track -h)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise UsageError(message.strip())
        raise _HelpShown


def _build_parser() -> _Parser:
    parser = _Parser(prog="%track", description="Track this notebook's work in nbtrack runs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    start = sub.add_parser(
        "start",
        help="start a run (ends the current one first)",
        description="Start a run (ending the current one first). With the JupyterLab extension "
        "connected, the top-level assignments of the notebook's cells tagged 'parameters' become "
        "params of the run (the kernel's values, else the literals in the cell; "
        "`%config Tracker.capture_parameters = False` turns this off).",
    )
    start.add_argument("name", nargs="?", help="run name (default: a generated one)")
    start.add_argument("--experiment", "-e", help="experiment name (created if needed)")
    start.add_argument("--tag", action="append", default=[], metavar="K=V", help="tag (repeatable)")
    start.add_argument("--resume", metavar="RUN_ID", help="continue this run instead")
    start.add_argument(
        "--system-metrics",
        action="store_true",
        help="sample CPU, memory, disk, network, this kernel and GPUs into the run (system/*)",
    )
    start.add_argument(
        "--autolog",
        action="store_true",
        help="log training by installed libraries (scikit-learn, ...) with no log calls",
    )
    end = sub.add_parser("end", help="end the active run")
    end.add_argument("--status", default="FINISHED", choices=["FINISHED", "FAILED", "KILLED"])
    sub.add_parser("status", help="show the active run")
    param = sub.add_parser("param", help="log variables as params")
    param.add_argument("names", nargs="+", metavar="NAME")
    metric = sub.add_parser("metric", help="log variables' current values as metrics")
    metric.add_argument("names", nargs="+", metavar="NAME")
    metric.add_argument("--step", type=int, help="step (default: the metric's next step)")
    watch = sub.add_parser("watch", help="log variables as metrics after every cell they change")
    watch.add_argument("names", nargs="+", metavar="NAME")
    unwatch = sub.add_parser("unwatch", help="stop watching (all variables when none are named)")
    unwatch.add_argument("names", nargs="*", metavar="NAME")
    tag = sub.add_parser("tag", help="set tags")
    tag.add_argument("pairs", nargs="+", metavar="K=V")
    note = sub.add_parser("note", help="set the run's description")
    note.add_argument("text", nargs="+")
    sub.add_parser("snapshot", help="store the notebook as an artifact now")
    log = sub.add_parser("log", help="log a file as an artifact")
    log.add_argument("path")
    log.add_argument("--artifact-path", help="directory inside the run's artifacts")
    _add_panel_commands(sub)
    _add_register_command(sub)
    return parser


def _add_panel_commands(sub: Any) -> None:
    """``runs``, ``compare``, ``live``, ``models``: panels of :mod:`nbtrack.ui` (_subcommands)."""
    runs = sub.add_parser("runs", help="open the run table")
    runs.add_argument("filter", nargs="*", help="search filter, e.g. metrics.acc > 0.9")
    runs.add_argument("--experiment", "-e", help="only this experiment's runs")
    compare = sub.add_parser("compare", help="compare runs (default: rows checked in the table)")
    compare.add_argument("runs", nargs="*", metavar="RUN")
    compare.add_argument("--metric", help="metric of the parallel-coordinates and scatter charts")
    live = sub.add_parser("live", help="chart metrics of the active run while it logs")
    live.add_argument("keys", nargs="+", metavar="KEY")
    live.add_argument("--run", help="run id (default: the active run)")
    live.add_argument("--interval", type=float, default=0.5, help="seconds between redraws")
    models = sub.add_parser("models", help="registered models: versions, aliases, stages")
    models.add_argument("name", nargs="?", help="only this registered model")


def _add_register_command(sub: Any) -> None:
    """``register``: log an in-memory model and register it (see _subcommands)."""
    register = sub.add_parser("register", help="log an in-memory model and register it")
    register.add_argument("variable", metavar="MODEL_VARIABLE")
    register.add_argument("name", metavar="NAME", help="registered model name")
    register.add_argument("--flavor", choices=["sklearn", "pyfunc", "pytorch"])
    register.add_argument("--example", metavar="VARIABLE", help="input example (signature)")
    register.add_argument("--artifact-path", default="model", help="where in the run")
    register.add_argument("--pickle", action="store_true", help="serialize with cloudpickle")


PARSER = _build_parser()


def _note_overridden(
    asked_name: str | None, name: str, asked_experiment: str | None, experiment: str
) -> None:
    """Say so when a headless run's command line overrode what ``%track start`` asked for."""
    differ = []
    if asked_name and asked_name != name:
        differ.append(f"name {asked_name!r}")
    if asked_experiment and asked_experiment != experiment:
        differ.append(f"experiment {asked_experiment!r}")
    if differ:
        print(
            f"nbtrack: warning: the command that runs this notebook set the run's name and "
            f"experiment; %track start's {' and '.join(differ)} "
            f"{'is' if len(differ) == 1 else 'are'} not used",
            file=sys.stderr,
        )


def _pairs(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"%track: expected KEY=VALUE, got {item!r}")
        out[key] = value
    return out


@magics_class
class TrackMagics(Magics):
    """The ``%track`` line magic and the ``%%track params`` cell magic."""

    def __init__(self, shell: Any, tracker: Tracker) -> None:
        super().__init__(shell)
        self.tracker = tracker
        self._shell: Any = shell  # Magics.shell is Optional; ours never is

    @line_cell_magic  # type: ignore[untyped-decorator, unused-ignore]  # typed in IPython 9
    def track(self, line: str, cell: str | None = None) -> None:
        """Track this notebook's work in nbtrack runs.

        Line magic (``%track -h`` for details):

            %track start [NAME] [--experiment E] [--tag k=v ...] [--resume RUN_ID]
                         [--system-metrics] [--autolog]
            %track end [--status FINISHED|FAILED|KILLED]
            %track status
            %track param NAME [NAME ...]
            %track metric NAME [NAME ...] [--step N]
            %track watch NAME [NAME ...]   /   %track unwatch [NAME ...]
            %track tag k=v [k=v ...]
            %track note "text"
            %track snapshot
            %track log PATH [--artifact-path DIR]
            %track register MODEL_VARIABLE NAME [--flavor F] [--example VAR] [--pickle]
            %track runs [FILTER] [--experiment E]
            %track compare [RUN ...] [--metric KEY]
            %track live KEY [KEY ...] [--run RUN_ID] [--interval S]
            %track models [NAME]

        Cell magic: ``%%track params`` runs the cell, then logs each top-level
        assignment in it (numbers, strings, bools, None, small lists/dicts)
        as a param. Re-running it with a changed value starts a new run.
        """
        try:
            if cell is not None:
                self._cell(line, cell)
                return
            try:
                # a filter keeps its quotes: params.opt = 'adam'
                posix = line.split(None, 1)[:1] != ["runs"]
                args = PARSER.parse_args(shlex.split(line, comments=True, posix=posix))
            except _HelpShown:
                return
            except ValueError as exc:  # shlex: unbalanced quotes
                raise UsageError(f"%track: {exc}") from None
            if args.command is None:
                PARSER.print_help()
                return
            command = getattr(self, f"_cmd_{args.command}", None)
            if command is not None:
                command(args)
            else:  # a sub-command of the ui or the registry (imported on first use)
                _subcommands.handler_for(args.command)(self, args)
        except NbtrackError as exc:
            raise UsageError(f"%track: {exc}") from None

    # -- sub-commands ---------------------------------------------------------------

    def _cmd_start(self, args: argparse.Namespace) -> None:
        # Everything that can refuse the command is checked before the current run ends.
        tags = _pairs(args.tag)
        experiment = args.experiment or self.tracker.default_experiment or None
        # A headless run (`nbtrack run`) is joined, never created: its runner placed and
        # named it (after this very line, unless its command line said otherwise), so no
        # experiment is created here.
        joining = bool(os.environ.get(fluent.ENV_RUN_ID)) and not args.resume
        if experiment and not joining:
            fluent.set_experiment(experiment)
        if args.resume:
            fluent.get_run(args.resume)  # NotFoundError for an unknown id
        if args.autolog:
            from nbtrack.autologging import autolog

            print(f"nbtrack: autolog on for {', '.join(autolog()) or 'no installed library'}")
        ended = self._end_all(RunStatus.FINISHED)
        run = fluent.start_run(
            run_id=args.resume,
            run_name=args.name,
            tags=tags,
            log_system_metrics=True if args.system_metrics else None,
        )
        info = run.info
        what = "resumed" if args.resume else "started"
        if run.joined:
            what = "joined headless"
        prefix = f"ended {ended}; " if ended else ""
        exp = fluent.get_experiment(info.experiment_id).name
        print(f"nbtrack: {prefix}{what} run {info.run_name!r} ({info.run_id[:8]}) in {exp!r}")
        if run.joined:
            _note_overridden(args.name, info.run_name, experiment, exp)

    def _cmd_end(self, args: argparse.Namespace) -> None:
        ended = self._end_all(args.status)
        print(f"nbtrack: ended {ended}" if ended else "nbtrack: no active run")

    def _cmd_status(self, _args: argparse.Namespace) -> None:
        run = fluent.active_run()
        where = locate.store_location(run.client.tracking_uri if run else fluent.get_tracking_uri())
        if run is None:
            print(f"nbtrack: no active run (start one with %track start)\n  store: {where}")
            return
        info, client = run.info, run.client
        data = client.get_run(info.run_id).data
        artifacts = client.queries.artifact_files(info.run_id)
        elapsed = time.time() - info.start_time / 1000
        snapshot = "taken" if any(p == SNAPSHOT_FILE for p, _, _ in artifacts) else "not yet"
        if self.tracker.channel is not None and self.tracker.channel.connected:
            snapshot += " (live notebook connected)"
        print(
            f"run {info.run_name!r} ({info.run_id})\n"
            f"  experiment {fluent.get_experiment(info.experiment_id).name!r}, "
            f"running for {elapsed:.0f} s\n"
            f"  {len(data.params)} params, {len(data.metrics)} metrics, "
            f"{len(artifacts)} artifacts, {len(self.tracker.watched)} watched\n"
            f"  snapshot: {snapshot}\n"
            f"  store: {where}"
        )

    def values(self, names: Sequence[str]) -> dict[str, Any]:
        """The user's variables ``names`` (a UsageError naming those not defined)."""
        namespace = self._shell.user_ns
        missing = [n for n in names if n not in namespace]
        if missing:
            raise UsageError(f"%track: not defined: {', '.join(missing)}")
        return {name: namespace[name] for name in names}

    def _cmd_param(self, args: argparse.Namespace) -> None:
        values = self.values(args.names)
        try:
            params = {k: _params_cell.param_text(k, v) for k, v in values.items()}
        except _params_cell.NotSimpleError as exc:
            raise UsageError(f"%track: {exc}") from None
        fluent.log_params(params)

    def _cmd_metric(self, args: argparse.Namespace) -> None:
        for name, value in self.values(args.names).items():
            fluent.log_metric(name, value, step=args.step)

    def _cmd_watch(self, args: argparse.Namespace) -> None:
        namespace = self._shell.user_ns
        for name in args.names:
            value = namespace.get(name)
            self.tracker.watched[name] = value
            if name in namespace and fluent.active_run() is not None:
                fluent.log_metric(name, value)  # the value as it is now is step 0
        print(f"nbtrack: watching {', '.join(self.tracker.watched)}")

    def _cmd_unwatch(self, args: argparse.Namespace) -> None:
        for name in args.names or list(self.tracker.watched):
            self.tracker.watched.pop(name, None)

    def _cmd_tag(self, args: argparse.Namespace) -> None:
        fluent.set_tags(_pairs(args.pairs))

    def _cmd_note(self, args: argparse.Namespace) -> None:
        fluent.set_tag(fluent.NOTE_TAG, " ".join(args.text))

    def _cmd_snapshot(self, _args: argparse.Namespace) -> None:
        run = fluent.active_run()
        if run is None:
            raise UsageError("%track: no active run to snapshot (start one with %track start)")
        source = self.tracker.snapshot(run)
        print(f"nbtrack: stored notebook snapshot (from the {source})")

    def _cmd_log(self, args: argparse.Namespace) -> None:
        run = fluent.active_run() or fluent.start_run()
        path = run.client.log_artifact(run.info.run_id, args.path, args.artifact_path)
        print(f"nbtrack: logged {path}")

    # -- helpers --------------------------------------------------------------------

    def _end_all(self, status: str) -> str | None:
        names = [f"{r.info.run_name!r}" for r in fluent._active_runs]
        while fluent._active_runs:
            fluent.end_run(status)
        return ", ".join(names) if names else None

    def _cell(self, line: str, cell: str) -> None:
        if line.strip() != "params":
            raise UsageError(f"%%track: unknown cell mode {line.strip()!r}; use %%track params")
        code = self._shell.transform_cell(cell)
        self._shell.ex(code)  # the user's errors propagate as their own traceback
        params, skipped = _params_cell.collect(code, self._shell.user_ns)
        for reason in skipped:
            print(f"nbtrack: not a param: {reason}")
        self._log_cell_params(params)

    def _log_cell_params(self, params: dict[str, str]) -> None:
        run = fluent.active_run()
        if run is None:
            run = fluent.start_run()
            print(f"nbtrack: started run {run.info.run_name!r} ({run.info.run_id[:8]})")
        changed = {
            k: (old, v)
            for k, v in params.items()
            if (old := run.client.logged_param(run.info.run_id, k)) is not None and old != v
        }
        if changed:
            name, experiment_id = run.info.run_name, run.info.experiment_id
            user_tags = {
                k: v
                for k, v in run.client.get_run(run.info.run_id).data.tags.items()
                if not k.startswith(("nbtrack.", "mlflow."))
            }
            old_id = run.info.run_id
            self._end_all(RunStatus.FINISHED)
            run = fluent.start_run(experiment_id=experiment_id, run_name=name, tags=user_tags)
            diff = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changed.items())
            print(
                f"nbtrack: params changed ({diff}): ended run {old_id[:8]}, "
                f"started run {name!r} ({run.info.run_id[:8]})"
            )
        fluent.log_params(params)
