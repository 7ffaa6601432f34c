"""What every integration shares: settings, patching, the autologged run, failure handling.

A library is patched only when its ``autolog()`` is called (importing nbtrack
patches nothing). Each patched method runs the library's own code exactly once
and returns its result unchanged: nbtrack's work before and after is wrapped
so that a failure there (a deleted run, a read-only store, an odd estimator)
is logged once per integration and kind, never raised into the user's
training. A patched call made inside another one (a pipeline's steps, a grid
search's candidates) only runs the original: the outermost call logs.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from nbtrack import fluent
from nbtrack.autologging import _background
from nbtrack.entities import RunStatus

log = logging.getLogger("nbtrack.autolog")

#: MLflow's tag naming the integration that logged a run.
AUTOLOGGING_TAG = "mlflow.autologging"


@dataclass
class Settings:
    """One integration's ``autolog(...)`` arguments (MLflow's names)."""

    log_models: bool = True
    log_input_examples: bool = False
    log_model_signatures: bool = True
    log_datasets: bool = True
    disable: bool = False
    exclusive: bool = False
    silent: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


_settings: dict[str, Settings] = {}
_patches: dict[str, list[tuple[Any, str, Any]]] = {}
_reported: set[tuple[str, str]] = set()
_local = threading.local()


def settings(flavor: str) -> Settings | None:
    """The integration's settings while it is enabled, else None."""
    found = _settings.get(flavor)
    return None if found is None or found.disable else found


def configure(flavor: str, new: Settings, install: Callable[[], None]) -> None:
    """Enable (patching once, with ``install``) or disable an integration."""
    if new.disable:
        _settings.pop(flavor, None)
        revert(flavor)
        return
    _settings[flavor] = new
    if flavor not in _patches:
        _patches[flavor] = []
        try:
            install()
        except Exception:
            revert(flavor)
            _settings.pop(flavor, None)
            raise


_ABSENT = object()


class _PatchedDescriptor:
    """A patched method that scikit-learn exposes through a descriptor (``available_if``).

    The descriptor still decides whether the method exists on an instance
    (``hasattr(pipeline, "predict_proba")``); only the call is wrapped.
    """

    __nbtrack_autolog__ = True

    def __init__(self, inner: Any, wrapper: Callable[..., Any]) -> None:
        self.inner = inner
        self.wrapper = wrapper
        self.__doc__ = getattr(inner, "__doc__", None)

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        bound = self.inner.__get__(obj, owner)  # AttributeError where unavailable
        if obj is None:
            return bound
        wrapper = self.wrapper

        def call(*args: Any, **kwargs: Any) -> Any:
            return wrapper(lambda _self, *a, **k: bound(*a, **k), obj, *args, **kwargs)

        return functools.wraps(bound)(call)


def patch(flavor: str, owner: Any, name: str, wrapper: Callable[..., Any]) -> None:
    """Replace ``owner.name`` by ``wrapper(original, *args, **kwargs)`` until :func:`revert`.

    ``owner`` is a class (its methods, inherited ones included, are patched on
    it) or a module (its functions).
    """
    if isinstance(owner, type):
        static = inspect.getattr_static(owner, name)
        own = owner.__dict__.get(name, _ABSENT)
    else:
        static = getattr(owner, name)
        own = static
    if getattr(static, "__nbtrack_autolog__", False):
        return
    replacement: Any
    if isinstance(static, types.FunctionType):
        original = static

        @functools.wraps(original)
        def patched(*args: Any, **kwargs: Any) -> Any:
            return wrapper(original, *args, **kwargs)

        patched.__nbtrack_autolog__ = True  # type: ignore[attr-defined]
        replacement = patched
    elif (
        isinstance(owner, type)
        and hasattr(static, "__get__")
        and not isinstance(static, staticmethod | classmethod | property)
    ):
        replacement = _PatchedDescriptor(static, wrapper)
    else:
        return  # a property, a static or class method, a builtin: left alone
    setattr(owner, name, replacement)
    _patches[flavor].append((owner, name, own))


def revert(flavor: str) -> None:
    """Put back every original the integration replaced."""
    for owner, name, own in reversed(_patches.pop(flavor, [])):
        if own is _ABSENT:
            delattr(owner, name)  # it was inherited: the base's again
        else:
            setattr(owner, name, own)


def report(flavor: str, what: str, exc: BaseException) -> None:
    """Log a failure inside a patch once per integration and kind (silent: debug only)."""
    config = _settings.get(flavor)
    key = (flavor, what)
    if key in _reported or (config is not None and config.silent):
        log.debug("nbtrack: %s autolog: %s failed: %s", flavor, what, exc)
        return
    _reported.add(key)
    log.warning(
        "nbtrack: %s autolog could not %s (%s: %s); training goes on and its result is "
        "unchanged. Further failures of this kind are logged at debug level.",
        flavor, what, type(exc).__name__, exc,
    )  # fmt: skip


_background.set_failure_reporter(report)


def in_patch() -> bool:
    """Whether a patched call is running on this thread (inner calls only run the original)."""
    return bool(getattr(_local, "depth", 0))


@contextmanager
def patch_scope() -> Iterator[None]:
    """Mark a patched call running on this thread."""
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1


class Session:
    """The run an autologged call logs into, started (and ended) by it if none was active."""

    def __init__(self, flavor: str, run: fluent.ActiveRun, managed: bool) -> None:
        self.flavor = flavor
        self.run = run
        self.managed = managed

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.run.info.run_id

    @property
    def client(self) -> Any:
        """The run's client."""
        return self.run.client

    def end(self, status: str) -> None:
        """End the run if autolog started it."""
        if self.managed:
            fluent.end_run(status, _run=self.run)


def begin(flavor: str, config: Settings) -> Session | None:
    """The session for a patched call: the active run, or a new one; None when excluded."""
    active = fluent.active_run()
    if active is not None:
        if config.exclusive:  # MLflow: never log into runs the user started
            return None
        return Session(flavor, active, managed=False)
    run = fluent.start_run(tags={AUTOLOGGING_TAG: flavor})
    return Session(flavor, run, managed=True)


def run_patched(
    flavor: str,
    original: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    before: Callable[[Session], Any],
    after: Callable[[Session, Any, Any], None],
) -> Any:
    """Run ``original`` once inside a session: ``before(session)``, the call, ``after``.

    ``before`` returns a state handed to ``after(session, state, result)``. Any
    failure of nbtrack's own parts is reported once; the original's exception
    propagates (ending a managed run as FAILED) and its result is returned as is.
    """
    config = settings(flavor)
    if config is None or in_patch():
        return original(*args, **kwargs)
    _background.note_activity()
    try:
        return _run_session(flavor, config, original, args, kwargs, before, after)
    finally:
        _background.note_activity()


def _run_session(
    flavor: str,
    config: Settings,
    original: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    before: Callable[[Session], Any],
    after: Callable[[Session, Any, Any], None],
) -> Any:
    with patch_scope():
        try:
            session = begin(flavor, config)
        except Exception as exc:
            report(flavor, "start a run", exc)
            session = None
        if session is None:
            return original(*args, **kwargs)
        state = None
        try:
            state = before(session)
        except Exception as exc:
            report(flavor, "log what it trains with", exc)
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            _end(session, RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else "FAILED")
            raise
        try:
            after(session, state, result)
        except Exception as exc:
            report(flavor, "log what it trained", exc)
        _end(session, RunStatus.FINISHED)
        return result


def _end(session: Session, status: str) -> None:
    try:
        session.end(status)
    except Exception as exc:
        report(session.flavor, "end its run", exc)


def in_notebook() -> bool:
    """Whether nbtrack's IPython extension is loaded (the notebook re-run rules apply)."""
    module = sys.modules.get("nbtrack.notebook")
    return bool(module is not None and getattr(module, "_loaded", None))


def log_params(session: Session, params: Mapping[str, Any]) -> None:
    """Log params as strings, following the run's rules (the session may move to a new run).

    A param the run already has with another value (the fit cell re-run with a
    new setting): in a notebook, as with ``%%track params``, the run ends and a
    new one like it starts; elsewhere the changed params are left out with a
    warning, as MLflow's autolog does.
    """
    from nbtrack._validation import MAX_PARAM_VALUE_LENGTH

    values = {str(k): _param_text(v, MAX_PARAM_VALUE_LENGTH) for k, v in params.items()}
    client = session.client
    changed = {
        k: (old, v)
        for k, v in values.items()
        if (old := client.logged_param(session.run_id, k)) is not None and old != v
    }
    if changed and not session.managed and in_notebook():
        _restart(session, changed)
    elif changed:
        diff = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in changed.items())
        log.warning("nbtrack: %s autolog: params already logged differently, kept: %s",
                    session.flavor, diff)  # fmt: skip
        values = {k: v for k, v in values.items() if k not in changed}
    if values:
        session.client.log_batch(session.run_id, params=list(values.items()))


def _restart(session: Session, changed: Mapping[str, tuple[str, str]]) -> None:
    run = session.run
    name, experiment_id = run.info.run_name, run.info.experiment_id
    tags = {
        k: v
        for k, v in session.client.get_run(session.run_id).data.tags.items()
        if not k.startswith(("nbtrack.", "mlflow."))
    }
    while fluent._active_runs:
        fluent.end_run(RunStatus.FINISHED)
    new = fluent.start_run(experiment_id=experiment_id, run_name=name, tags=tags)
    diff = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changed.items())
    print(
        f"nbtrack: params changed ({diff}): ended run {session.run_id[:8]}, "
        f"started run {name!r} ({new.info.run_id[:8]})"
    )
    session.run = new


def _param_text(value: Any, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def caller_variable_name(value: Any, fallback: str) -> str:
    """The name of the user's variable holding ``value`` (MLflow names eval datasets so)."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(("nbtrack.", "sklearn.", "xgboost.", "lightgbm.", "functools")):
            for name, candidate in frame.f_locals.items():
                if candidate is value and not name.startswith("_"):
                    return name
            return fallback
        frame = frame.f_back  # type: ignore[assignment]
    return fallback


_model_names: dict[tuple[str, str], int] = {}  # (run, name) -> the next number to try
_model_names_lock = threading.Lock()


def forget_model_names(run_id: str) -> None:
    """Drop what :func:`log_model_once` remembers of a run (it has ended)."""
    with _model_names_lock:
        for key in [k for k in _model_names if k[0] == run_id]:
            del _model_names[key]


def _forget_ended_run(event: str, run: fluent.ActiveRun) -> None:
    """Run listener: forget an ended run's model names (its models were written at "ending")."""
    if event == "ended":
        forget_model_names(run.info.run_id)


def log_model_once(log: Callable[[str], Any], name: str, run_id: str | None = None) -> Any:
    """Log a model under ``name``, or ``name-2``, ``name-3``... when the run has one there.

    A run that trains twice (a fit cell re-run with the same settings) keeps
    every model; the last one is the highest number. With ``run_id``, the
    numbers this process already used in that run are skipped without a look
    at the store (a loop of fits would otherwise try every taken name first).
    """
    from nbtrack.exceptions import InvalidInputError

    key = (run_id or "", name)
    with _model_names_lock:
        first = _model_names.get(key, 1) if run_id is not None else 1
    for attempt in range(first, 1000):
        path = name if attempt == 1 else f"{name}-{attempt}"
        try:
            info = log(path)
        except InvalidInputError as exc:
            if "already has artifacts" not in str(exc):
                raise
            continue
        if run_id is not None:
            with _model_names_lock:
                _model_names[key] = max(_model_names.get(key, 1), attempt + 1)
            fluent.add_run_listener(_forget_ended_run)  # once: it is a no-op after
        return info
    raise InvalidInputError(f"the run has 999 models named {name}-N; start a new run")


#: Rows of the training data kept as the input example (MLflow's ``INPUT_EXAMPLE_SAMPLE_ROWS``).
INPUT_EXAMPLE_ROWS = 5


def example_rows(data: Any) -> Any:
    """A copy of the first rows of training data (numpy, pandas, scipy sparse, torch), or None.

    None for what has no rows to take (a file name, an iterator); the copy
    keeps the example as it was even if the user changes the data in place.
    """
    import copy

    module = type(data).__module__
    if module.startswith("pandas"):
        return data.iloc[:INPUT_EXAMPLE_ROWS].copy()
    if module.startswith("torch"):
        return data[:INPUT_EXAMPLE_ROWS].detach().cpu().numpy().copy()
    if module.startswith(("numpy", "scipy")) and getattr(data, "ndim", 0) >= 1:
        return copy.deepcopy(data[:INPUT_EXAMPLE_ROWS])
    if isinstance(data, list) and data:
        return copy.deepcopy(data[:INPUT_EXAMPLE_ROWS])
    return None


def model_signature(flavor: str, model: Any, example: Any) -> Any:
    """The signature of ``model`` for the example rows (their types and the model's output's)."""
    from nbtrack.models._flavor import flavor_named
    from nbtrack.models._signature import infer_signature

    return infer_signature(example, flavor_named(flavor).output_for_signature(model, example))


def example_and_signature(
    integration: str, flavor: str, model: Any, example: Any, config: Settings
) -> tuple[Any, Any]:
    """What ``log_model`` gets as ``(input_example, signature)`` under the settings.

    ``log_input_examples`` keeps the rows with the model; ``log_model_signatures``
    infers the signature from them. A failure to infer is reported and the model
    is logged without one.
    """
    if example is None:
        return None, None
    signature = None
    if config.log_model_signatures:
        try:
            signature = model_signature(flavor, model, example)
        except Exception as exc:  # a model that refuses a few rows
            report(integration, "infer the model signature", exc)
    return (example if config.log_input_examples else None), signature
