"""XGBoost and LightGBM autolog: ``train`` (and the scikit-learn API, which calls it).

What a training logs (MLflow's names):

- params: the ``params`` dict and ``train``'s own arguments (``num_boost_round``,
  ``early_stopping_rounds``, ...);
- every evaluation result per iteration as ``<dataset>-<metric>`` (``train-rmse``,
  ``valid-logloss``) at step = iteration;
- with early stopping: ``stopped_iteration``, ``best_iteration``, and the best
  iteration's results again at the step after the last;
- feature importance per type: ``feature_importance_<type>.json`` and a bar chart
  ``feature_importance_<type>.png`` (matplotlib; skipped with a debug message without it);
- the booster under ``model``: XGBoost's JSON or LightGBM's text format (no pickle),
  with a signature inferred from the training data's first rows
  (``log_model_signatures``) and those rows as its input example
  (``log_input_examples``), as MLflow does. The rows come from the data a
  ``DMatrix`` was built from (XGBoost), the ``Dataset``'s data (LightGBM), or
  ``X`` of a scikit-learn API ``fit``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nbtrack.autologging import _core
from nbtrack.autologging._core import Session, Settings

log = logging.getLogger("nbtrack.autolog")

#: train() arguments that are data or plumbing, not settings
_NOT_PARAMS = {
    "params", "dtrain", "train_set", "evals", "valid_sets", "valid_names", "callbacks",
    "evals_result", "obj", "feval", "custom_metric", "xgb_model", "init_model",
    "keep_training_booster", "fobj",
}  # fmt: skip


def _settings(
    flavor: str,
    importance_types: Sequence[str],
    log_input_examples: bool,
    log_model_signatures: bool,
    log_models: bool,
    log_datasets: bool,
    disable: bool,
    exclusive: bool,
    silent: bool,
    registered_model_name: str | None,
    extra_tags: Mapping[str, Any] | None,
) -> Settings:
    return Settings(
        log_models=log_models,
        log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures,
        log_datasets=log_datasets,
        disable=disable,
        exclusive=exclusive,
        silent=silent,
        extra={
            "importance_types": list(importance_types),
            "registered_model_name": registered_model_name,
            "extra_tags": dict(extra_tags or {}),
        },
    )


def autolog_xgboost(
    importance_types: Sequence[str] = ("weight",),
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    model_format: str = "json",
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Log XGBoost training automatically (MLflow's ``mlflow.xgboost.autolog``).

    ``importance_types``: XGBoost's ``get_score`` types to log (``weight``,
    ``gain``, ``cover``, ...). ``model_format`` is accepted for MLflow
    compatibility; models are stored as JSON.
    """
    del disable_for_unsupported_versions, model_format
    config = _settings(
        "xgboost", importance_types, log_input_examples, log_model_signatures, log_models,
        log_datasets, disable, exclusive, silent, registered_model_name, extra_tags,
    )  # fmt: skip
    _core.configure("xgboost", config, _install_xgboost)


def autolog_lightgbm(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    extra_tags: Mapping[str, Any] | None = None,
    importance_types: Sequence[str] = ("split", "gain"),
) -> None:
    """Log LightGBM training automatically (MLflow's ``mlflow.lightgbm.autolog``)."""
    del disable_for_unsupported_versions
    config = _settings(
        "lightgbm", importance_types, log_input_examples, log_model_signatures, log_models,
        log_datasets, disable, exclusive, silent, registered_model_name, extra_tags,
    )  # fmt: skip
    _core.configure("lightgbm", config, _install_lightgbm)


def _install_xgboost() -> None:
    import xgboost
    import xgboost.sklearn
    import xgboost.training

    for owner in (xgboost, xgboost.training, xgboost.sklearn):
        if hasattr(owner, "train"):
            _core.patch("xgboost", owner, "train", _patched_xgboost_train)
    _core.patch("xgboost", xgboost.DMatrix, "__init__", _patched_dmatrix_init)
    for name in ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier",
                 "XGBRFRegressor"):  # fmt: skip
        cls = getattr(xgboost.sklearn, name, None)
        if cls is not None:
            _core.patch("xgboost", cls, "fit", _patched_xgboost_fit)


def _install_lightgbm() -> None:
    import lightgbm
    import lightgbm.engine
    import lightgbm.sklearn

    for owner in (lightgbm, lightgbm.engine, lightgbm.sklearn):
        if hasattr(owner, "train"):
            _core.patch("lightgbm", owner, "train", _patched_lightgbm_train)


def _bound(original: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    import inspect

    signature = inspect.signature(original)
    bound = signature.bind_partial(*args, **kwargs)
    values = {
        name: p.default
        for name, p in signature.parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    values.update(bound.arguments)
    return values


def _train_params(arguments: Mapping[str, Any]) -> dict[str, Any]:
    params = dict(arguments.get("params") or {})
    for name, value in arguments.items():
        settable = name not in _NOT_PARAMS and name not in params
        if settable and isinstance(value, str | int | float | bool):
            params[name] = value
    return params


class _MetricLogger:
    """Per-iteration evaluation results into the run (enqueue only: the writer does the I/O)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.history: dict[int, dict[str, float]] = {}

    def log(self, step: int, values: Mapping[str, float]) -> None:
        self.history[step] = dict(values)
        now = int(time.time() * 1000)
        points = [(k, float(v), now, step) for k, v in values.items()]
        try:
            self.session.client.log_batch(self.session.run_id, metrics=points)
        except Exception as exc:
            _core.report(self.session.flavor, "log an iteration's metrics", exc)

    def early_stopping(self, best: int | None) -> None:
        """MLflow's ``stopped_iteration``/``best_iteration`` and the best results once more."""
        if best is None or not self.history:
            return
        stopped = max(self.history)
        client, run_id = self.session.client, self.session.run_id
        client.log_batch(
            run_id,
            metrics=[("stopped_iteration", float(stopped), None, 0),
                     ("best_iteration", float(best), None, 0)],
        )  # fmt: skip
        best_values = self.history.get(best)
        if best_values:
            now = int(time.time() * 1000)
            points = [(k, v, now, stopped + 1) for k, v in best_values.items()]
            client.log_batch(run_id, metrics=points)


def _run_training(
    flavor: str,
    original: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    add_callback: Callable[[dict[str, Any], _MetricLogger], None],
    finish: Callable[[Session, _MetricLogger, Any, dict[str, Any]], None],
) -> Any:
    """run_patched for ``train``: params before, a metrics callback during, the rest after."""
    state: dict[str, Any] = {}
    wrapper_session = getattr(_wrapper_fit, "session", None)
    if wrapper_session is not None and _core.in_patch():
        # train() inside an autologged XGBModel.fit: log into the fit's session; the fit
        # logs the wrapper itself as the model once it is fitted
        _wrapper_fit.session = None
        return _train_inside_fit(wrapper_session, original, args, kwargs, add_callback, finish)

    def before(session: Session) -> Any:
        arguments = _bound(original, args, kwargs)
        _core.log_params(session, _train_params(arguments))
        config = _core.settings(flavor) or Settings()
        tags = {_core.AUTOLOGGING_TAG: flavor, **config.extra.get("extra_tags", {})}
        session.client.log_batch(session.run_id, tags=list(tags.items()))
        logger = _MetricLogger(session)
        add_callback(kwargs, logger)
        state["logger"] = logger
        arguments["_example"] = _training_example(flavor, arguments, config)
        return arguments

    def after(session: Session, arguments: Any, booster: Any) -> None:
        logger = state.get("logger")
        if logger is not None and arguments is not None:
            finish(session, logger, booster, arguments)

    return _core.run_patched(flavor, original, args, kwargs, before, after)


_wrapper_fit = threading.local()


def _train_inside_fit(
    session: Session,
    original: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    add_callback: Callable[[dict[str, Any], _MetricLogger], None],
    finish: Callable[[Session, _MetricLogger, Any, dict[str, Any]], None],
) -> Any:
    arguments = None
    logger = _MetricLogger(session)
    try:
        arguments = _bound(original, args, kwargs)
        _core.log_params(session, _train_params(arguments))
        add_callback(kwargs, logger)
        arguments["_example"] = None  # the wrapper's fit logs the model with its X
    except Exception as exc:
        _core.report(session.flavor, "log what it trains with", exc)
    booster = original(*args, **kwargs)
    if arguments is not None:
        try:
            finish(session, logger, booster, {**arguments, "_inside_fit": True})
        except Exception as exc:
            _core.report(session.flavor, "log what it trained", exc)
    return booster


def _patched_xgboost_fit(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    """``XGBClassifier.fit`` & co: train() logs as usual; the fitted wrapper is the model."""

    def before(session: Session) -> None:
        config = _core.settings("xgboost") or Settings()
        tags = {_core.AUTOLOGGING_TAG: "xgboost", **config.extra.get("extra_tags", {})}
        session.client.log_batch(session.run_id, tags=list(tags.items()))
        _wrapper_fit.session = session

    def after(session: Session, _state: Any, _result: Any) -> None:
        _wrapper_fit.session = None
        config = _core.settings("xgboost") or Settings()
        if config.log_models:
            x = args[0] if args else kwargs.get("X")
            _log_booster(session, "xgboost", self, config, _example_of(x, config, "xgboost"))

    try:
        return _core.run_patched("xgboost", original, (self, *args), kwargs, before, after)
    finally:
        _wrapper_fit.session = None


# -- XGBoost -------------------------------------------------------------------------------


def _patched_xgboost_train(original: Any, *args: Any, **kwargs: Any) -> Any:
    def add_callback(call_kwargs: dict[str, Any], logger: _MetricLogger) -> None:
        callback = _xgboost_callback(logger)
        call_kwargs["callbacks"] = [*(call_kwargs.get("callbacks") or []), callback]

    return _run_training("xgboost", original, args, kwargs, add_callback, _finish_xgboost)


def _xgboost_callback(logger: _MetricLogger) -> Any:
    from xgboost.callback import TrainingCallback

    class NbtrackCallback(TrainingCallback):
        """Logs each iteration's evaluation results."""

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            values = {
                f"{data}-{metric}": series[-1][0] if isinstance(series[-1], tuple) else series[-1]
                for data, metrics in evals_log.items()
                for metric, series in metrics.items()
                if len(series)
            }
            if values:
                logger.log(epoch, values)
            return False  # never stop training

    return NbtrackCallback()


def _finish_xgboost(
    session: Session, logger: _MetricLogger, booster: Any, arguments: dict[str, Any]
) -> None:
    config = _core.settings("xgboost") or Settings()
    if arguments.get("early_stopping_rounds"):
        logger.early_stopping(getattr(booster, "best_iteration", None))
    for kind in config.extra.get("importance_types", ["weight"]):
        try:
            scores = booster.get_score(importance_type=kind)
        except Exception as exc:  # a booster type without this importance (gblinear)
            _core.report("xgboost", f"compute {kind} feature importance", exc)
            continue
        _log_importance(session, kind, {str(k): float(v) for k, v in scores.items()})
    if config.log_models and not arguments.get("_inside_fit"):
        _log_booster(session, "xgboost", booster, config, arguments.get("_example"))


# -- LightGBM ------------------------------------------------------------------------------


def _patched_lightgbm_train(original: Any, *args: Any, **kwargs: Any) -> Any:
    def add_callback(call_kwargs: dict[str, Any], logger: _MetricLogger) -> None:
        def callback(env: Any) -> None:
            values = {f"{r[0]}-{r[1]}": float(r[2]) for r in env.evaluation_result_list}
            if values:
                logger.log(env.iteration - env.begin_iteration, values)

        call_kwargs["callbacks"] = [*(call_kwargs.get("callbacks") or []), callback]

    return _run_training("lightgbm", original, args, kwargs, add_callback, _finish_lightgbm)


def _finish_lightgbm(
    session: Session, logger: _MetricLogger, booster: Any, arguments: dict[str, Any]
) -> None:
    config = _core.settings("lightgbm") or Settings()
    params = arguments.get("params") or {}
    stopping = (
        arguments.get("early_stopping_rounds")
        or params.get("early_stopping_round")
        or (params.get("early_stopping_rounds"))
    )
    best = getattr(booster, "best_iteration", 0)
    if stopping and best:
        logger.early_stopping(best - 1)  # LightGBM counts iterations from 1
    names = [str(n) for n in booster.feature_name()]
    for kind in config.extra.get("importance_types", ["split", "gain"]):
        try:
            values = booster.feature_importance(importance_type=kind)
        except Exception as exc:
            _core.report("lightgbm", f"compute {kind} feature importance", exc)
            continue
        _log_importance(session, kind, {n: float(v) for n, v in zip(names, values, strict=True)})
    if config.log_models:
        _log_booster(session, "lightgbm", booster, config, arguments.get("_example"))


# -- shared ---------------------------------------------------------------------------------


def _log_importance(session: Session, kind: str, scores: dict[str, float]) -> None:
    client, run_id = session.client, session.run_id
    ordered = dict(sorted(scores.items(), key=lambda item: -item[1]))
    client.log_dict(run_id, ordered, f"feature_importance_{kind}.json")
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        log.debug("nbtrack: no matplotlib: feature importance plot not drawn")
        return
    names = list(ordered)[::-1]
    figure, axes = plt.subplots(figsize=(6, max(2.0, 0.3 * len(names) + 1)))
    try:
        axes.barh(names, [ordered[n] for n in names])
        axes.set_title(f"feature importance ({kind})")
        figure.tight_layout()
        client.log_figure(run_id, figure, f"feature_importance_{kind}.png")
    finally:
        plt.close(figure)


def _log_booster(
    session: Session, flavor: str, booster: Any, config: Settings, example: Any
) -> None:
    from nbtrack.models import _api

    try:
        input_example, signature = _core.example_and_signature(
            flavor, flavor, booster, example, config
        )
        _core.log_model_once(
            lambda path: _api.log_model_into(
                session.client,
                session.run_id,
                flavor,
                booster,
                path,
                input_example=input_example,
                signature=signature,
                serialization=_SERIALIZATION[flavor],
                registered_model_name=config.extra.get("registered_model_name"),
                signature_from_example=False,
            ),
            "model",
            session.run_id,
        )
    except Exception as exc:
        _core.report(flavor, "log the model", exc)


_SERIALIZATION = {"xgboost": "json", "lightgbm": "text"}


# -- input examples -------------------------------------------------------------------------

#: The attribute of a ``DMatrix`` holding the first rows of the data it was built from.
_EXAMPLE_ATTR = "_nbtrack_input_example"


def _wants_example(config: Settings) -> bool:
    return config.log_models and (config.log_input_examples or config.log_model_signatures)


def _example_of(data: Any, config: Settings, flavor: str) -> Any:
    """The first rows of training data when the settings need them, else None."""
    if data is None or not _wants_example(config):
        return None
    try:
        return _core.example_rows(data)
    except Exception as exc:  # data that does not slice as its type promises
        _core.report(flavor, "take the input example", exc)
        return None


def _patched_dmatrix_init(original: Any, self: Any, *args: Any, **kwargs: Any) -> None:
    """``DMatrix(data, ...)`` keeps its data's first rows (a DMatrix cannot give them back)."""
    original(self, *args, **kwargs)
    config = _core.settings("xgboost")
    if config is None or not _wants_example(config):
        return
    data = args[0] if args else kwargs.get("data")
    example = _example_of(data, config, "xgboost")
    if example is not None:
        setattr(self, _EXAMPLE_ATTR, example)


def _training_example(flavor: str, arguments: Mapping[str, Any], config: Settings) -> Any:
    """The training data's first rows: the DMatrix's (XGBoost), the Dataset's (LightGBM)."""
    if not _wants_example(config):
        return None
    if flavor == "xgboost":
        return getattr(arguments.get("dtrain"), _EXAMPLE_ATTR, None)
    train_set = arguments.get("train_set")
    return _example_of(getattr(train_set, "data", None), config, flavor)
