"""What nbtrack's cell hook adds to every cell, in IPython's own shell (budget: 20 µs).

Usage::

    python bench/bench_hook.py             # 20,000 cells per block, 5 repetitions
    python bench/bench_hook.py --quick     # 2,000 cells per block, 3 repetitions
    python bench/bench_hook.py --profile   # also cProfile the hook and the writer thread

Everything runs in this one process, in ``InteractiveShell.instance()`` with a
store in a fresh temp directory. Each block times ``run_cell(code,
store_history=False)`` N times in one of these configurations:

* ``base``: no extension loaded (the reference);
* ``idle``: ``%load_ext nbtrack``, no run active;
* ``watch``: loaded, a run active (``%track start``), ``%track watch a b``,
  and the cell (``pass``) changes neither: the budget case;
* ``base a+=1`` / ``watch a+=1``: the same two with a cell that changes ``a``
  every time, so the hook also logs one metric point per cell.

Blocks of all configurations are interleaved, in a rotating order, and each
figure is the median over repetitions; "added" is the median of the per-
repetition differences to the matching ``base``. Each block ends with a
flush of the writer's backlog inside the timed section, so a block pays for
all the background writes of its own cells and nobody else's. Run start (environment capture)
and the snapshot at run end are switched off: they happen once per run, not
per cell.

Also printed: the cold and warm cost of ``%load_ext nbtrack``, whether pandas,
Altair or ipywidgets were imported by it, and a breakdown of the added time
into the hook's own code (called directly, in a loop) and the writer thread's
work for the queued timeline rows.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import platform
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from nbtrack.notebook import Tracker

BUDGET_US = 20.0
HEAVY_MODULES = ("pandas", "altair", "ipywidgets")
WATCHED = ("a", "b")


@dataclass(frozen=True)
class Config:
    """One way of running cells: extension state plus the cell's code."""

    name: str
    label: str
    code: str
    loaded: bool
    run: bool
    baseline: str | None = None  # the config this one is compared with
    budget: bool = False


CONFIGS = (
    Config("base", 'no extension, run_cell("pass")', "pass", loaded=False, run=False),
    Config("idle", "loaded, no active run", "pass", loaded=True, run=False, baseline="base"),
    Config(
        "watch",
        "run active + watch a b (unchanged)",
        "pass",
        loaded=True,
        run=True,
        baseline="base",
        budget=True,
    ),
    Config("base a+=1", 'no extension, run_cell("a += 1")', "a += 1", loaded=False, run=False),
    Config(
        "watch a+=1",
        "run active + watch a b (a changes)",
        "a += 1",
        loaded=True,
        run=True,
        baseline="base a+=1",
        budget=True,
    ),
)


@dataclass
class Session:
    """The shell and what the benchmark set up in it."""

    shell: InteractiveShell
    loaded: bool = False
    run_active: bool = False
    timings: dict[str, list[float]] = field(default_factory=dict)

    def cell(self, code: str) -> None:
        """Run a set-up cell quietly; any failure stops the benchmark."""
        with redirect_stdout(io.StringIO()):
            result = self.shell.run_cell(code, store_history=False)
        if not result.success:
            raise RuntimeError(f"set-up cell {code!r} failed: {result.error_in_exec!r}")

    def enter(self, config: Config) -> None:
        """Put the shell in ``config``'s state (untimed)."""
        if self.run_active and (not config.run or not config.loaded):
            self.cell("%track end")
            self.run_active = False
        if config.loaded and not self.loaded:
            self.cell("%load_ext nbtrack")
            self.cell("%config Tracker.auto_snapshot = False")
            self.cell("%config Tracker.capture_environment = False")
            self.loaded = True
        elif not config.loaded and self.loaded:
            self.cell("%unload_ext nbtrack")
            self.loaded = False
        self.shell.user_ns.update(a=0, b=0.5)
        if config.run and not self.run_active:
            self.cell(f"%track start bench-{config.name.replace(' ', '-')}")
            self.cell(f"%track watch {' '.join(WATCHED)}")
            self.run_active = True

    def block(self, code: str, cells: int) -> float:
        """Microseconds per ``run_cell(code)``, over ``cells`` cells."""
        run_cell = self.shell.run_cell
        gc.collect()
        start = time.perf_counter_ns()
        for _ in range(cells):
            run_cell(code, store_history=False)
        _flush()  # timed: the block pays for all the background writes of its cells
        elapsed = time.perf_counter_ns() - start
        return elapsed / cells / 1000


def _flush() -> None:
    import nbtrack

    nbtrack.flush()


@contextmanager
def _quiet() -> Iterator[None]:
    with redirect_stdout(io.StringIO()):
        yield


# -- loading ---------------------------------------------------------------------------------


def measure_loading(shell: InteractiveShell, repeats: int) -> tuple[float, float, list[str]]:
    """Cold and warm ``%load_ext nbtrack`` in ms, and the heavy modules it imported."""
    assert "nbtrack" not in sys.modules, "nbtrack must not be imported before the cold load"
    start = time.perf_counter()
    with _quiet():
        shell.run_cell("%load_ext nbtrack", store_history=False)
    cold_ms = (time.perf_counter() - start) * 1000
    heavy = [m for m in HEAVY_MODULES if m in sys.modules]
    warm = []
    for _ in range(repeats):
        with _quiet():
            shell.run_cell("%unload_ext nbtrack", store_history=False)
        start = time.perf_counter()
        with _quiet():
            shell.run_cell("%load_ext nbtrack", store_history=False)
        warm.append((time.perf_counter() - start) * 1000)
    with _quiet():
        shell.run_cell("%unload_ext nbtrack", store_history=False)
    return cold_ms, statistics.median(warm), heavy


# -- the hook's own code, called directly ----------------------------------------------------


def _tracker(shell: InteractiveShell) -> Tracker:
    from nbtrack.notebook import Tracker

    found = [c for c in shell.configurables if isinstance(c, Tracker)]
    if len(found) != 1:
        raise RuntimeError("the nbtrack extension is not loaded")
    return found[0]


def direct_hook_us(session: Session, cells: int, change: bool, chunk: int = 1_000) -> float:
    """µs per pre_run_cell + post_run_cell pair, called in a loop (no IPython around them).

    Timed in chunks of ``chunk`` cells, each right after a flush and shorter
    than the writer's drain interval, so the writer thread rarely competes:
    this is the hook's own code. Median over the chunks.
    """
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult

    session.enter(CONFIGS[2])
    tracker = _tracker(session.shell)
    info = ExecutionInfo("pass", False, False, False, None)
    result = ExecutionResult(info)
    namespace = session.shell.user_ns
    pre, post = tracker.pre_run_cell, tracker.post_run_cell
    per_chunk = []
    value = 0
    for _ in range(max(1, cells // chunk)):
        _flush()
        gc.collect()
        start = time.perf_counter_ns()
        if change:
            for _ in range(chunk):
                pre(info)
                value += 1
                namespace["a"] = value
                post(result)
        else:
            for _ in range(chunk):
                pre(info)
                post(result)
        per_chunk.append((time.perf_counter_ns() - start) / chunk / 1000)
    _flush()
    return statistics.median(per_chunk)


def writer_us_per_cell(session: Session, cells: int) -> tuple[float, float]:
    """(enqueue µs, writer-thread µs) per cell for the timeline rows alone."""
    import nbtrack

    session.enter(CONFIGS[2])
    run = nbtrack.active_run()
    assert run is not None
    client, run_id = run.client, run.info.run_id
    _flush()
    start = time.perf_counter_ns()
    for i in range(cells):
        seq = client.begin_cell(run_id, None, i, "pass", 0)
        client.end_cell(run_id, seq, None, i, "pass", 0, 0, None)
    queued = time.perf_counter_ns()
    _flush()
    done = time.perf_counter_ns()
    return (queued - start) / cells / 1000, (done - queued) / cells / 1000


# -- profiles --------------------------------------------------------------------------------


def _top(profile: cProfile.Profile, title: str, limit: int = 14) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(limit)
    lines = out.getvalue().splitlines()
    body = [line for line in lines if line.strip()]
    start = next((i for i, line in enumerate(body) if line.lstrip().startswith("ncalls")), 0)
    print(f"\n{title}")
    for line in body[start:]:
        print("  " + line)


def profile_hook(session: Session, cells: int, change: bool) -> None:
    """cProfile of the hook (shell thread) and of the writer thread, over ``cells`` cells."""
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult

    import nbtrack

    session.enter(CONFIGS[4] if change else CONFIGS[2])
    run = nbtrack.active_run()
    assert run is not None
    writer = run.client._store.writer  # the profile needs the writer thread itself
    hook_profile, writer_profile = cProfile.Profile(), cProfile.Profile()
    tracker = _tracker(session.shell)
    info = ExecutionInfo("a += 1" if change else "pass", False, False, False, None)
    result = ExecutionResult(info)
    namespace = session.shell.user_ns
    _flush()
    # cProfile profiles the thread that enables it: enable it on the writer thread.
    writer.call(lambda _conn: writer_profile.enable())
    hook_profile.enable()
    for i in range(cells):
        tracker.pre_run_cell(info)
        if change:
            namespace["a"] = i + 1
        tracker.post_run_cell(result)
    hook_profile.disable()
    _flush()
    writer.call(lambda _conn: writer_profile.disable())
    what = "a changes" if change else "watch a b unchanged"
    _top(hook_profile, f"cProfile, {what}: pre_run_cell + post_run_cell x {cells} (shell thread)")
    _top(writer_profile, f"cProfile, {what}: the writer thread storing those {cells} cells")


# -- main ------------------------------------------------------------------------------------


def run_blocks(session: Session, cells: int, repeats: int) -> None:
    """Interleaved, rotating blocks of every configuration."""
    order = list(CONFIGS)
    for rep in range(repeats):
        shift = rep % len(order)
        for config in order[shift:] + order[:shift]:
            session.enter(config)
            us = session.block(config.code, cells)
            session.timings.setdefault(config.name, []).append(us)
        print(
            f"  repetition {rep + 1}/{repeats}: "
            + ", ".join(f"{c.name} {session.timings[c.name][-1]:.1f}" for c in CONFIGS)
            + " µs/cell",
            flush=True,
        )
    session.enter(CONFIGS[0])


def report(session: Session) -> bool:
    """Print the table; True when every budget case passes."""
    timings = session.timings
    ok = True
    print(f"\n{'configuration':<40} {'µs/cell':>9} {'spread':>15} {'added µs':>9}  verdict")
    for config in CONFIGS:
        values = timings[config.name]
        spread = f"{min(values):.1f}-{max(values):.1f}"
        line = f"{config.label:<40} {statistics.median(values):>9.1f} {spread:>15}"
        if config.baseline is not None:
            base = timings[config.baseline]
            added = statistics.median(v - b for v, b in zip(values, base, strict=True))
            line += f" {added:>+9.1f}"
            if config.budget:
                passed = added <= BUDGET_US
                ok = ok and passed
                line += f"  {'PASS' if passed else 'MISS'} (budget {BUDGET_US:.0f} µs)"
        print(line)
    return ok


def _callable_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", repr(fn))


def main() -> int:
    """Run the benchmark; exit status 1 when the budget is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 cells x 3 repetitions")
    parser.add_argument("--cells", type=int, help="cells per block (default 20,000)")
    parser.add_argument("--repeats", type=int, help="repetitions (default 5)")
    parser.add_argument("--profile", action="store_true", help="cProfile the hook and writer")
    args = parser.parse_args()
    cells = args.cells or (2_000 if args.quick else 20_000)
    repeats = args.repeats or (3 if args.quick else 5)

    workdir = Path(tempfile.mkdtemp(prefix="nbtrack-bench-hook-"))
    os.environ["NBTRACK_TRACKING_URI"] = str(workdir / ".nbtrack")
    os.environ.pop("JPY_SESSION_NAME", None)
    os.chdir(workdir)  # no git repository around: run start does no git calls

    from IPython import __version__ as ipython_version
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    print(
        f"nbtrack cell hook benchmark: Python {platform.python_version()}, "
        f"IPython {ipython_version}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"{cells:,} cells per block, {repeats} repetitions, store in {workdir}\n")

    cold_ms, warm_ms, heavy = measure_loading(shell, repeats=20)
    print(f"%load_ext nbtrack: {cold_ms:.1f} ms cold (first load, imports nbtrack), ")
    print(f"                   {warm_ms:.2f} ms warm (median of 20 reloads)")
    imported = ", ".join(heavy) if heavy else "none"
    print(f"imported by loading, of {', '.join(HEAVY_MODULES)}: {imported}")
    hooks = [_callable_name(cb) for cb in shell.events.callbacks["pre_run_cell"]]
    print(f"pre_run_cell callbacks while unloaded: {hooks or 'none'}\n")

    session = Session(shell)
    session.enter(CONFIGS[1])
    session.block("pass", min(cells, 1_000))  # warm up every code path once
    session.enter(CONFIGS[4])
    session.block("a += 1", min(cells, 1_000))
    print("blocks:")
    run_blocks(session, cells, repeats)
    ok = report(session)

    direct = direct_hook_us(session, cells, change=False)
    direct_change = direct_hook_us(session, cells, change=True)
    enqueue, written = writer_us_per_cell(session, cells)
    print("\nwhere the added time goes (µs per cell):")
    print(f"  hook code called directly, watch a b unchanged: {direct:6.2f}")
    print(f"  hook code called directly, a changes:           {direct_change:6.2f}")
    print(f"  of which queueing the two timeline rows:        {enqueue:6.2f}")
    print(f"  writer thread storing the two timeline rows:    {written:6.2f}  (background, holds")
    print("    the GIL while in Python code, so it slows the shell thread by about as much)")

    if args.profile:
        profile_hook(session, cells, change=False)
        profile_hook(session, cells, change=True)
    session.enter(CONFIGS[0])
    from nbtrack.store import close_all

    close_all()
    os.chdir(tempfile.gettempdir())
    shutil.rmtree(workdir, ignore_errors=True)
    if heavy:
        ok = False
    print(f"\noverall: {'PASS' if ok else 'MISS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
