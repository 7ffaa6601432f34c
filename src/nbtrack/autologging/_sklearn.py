"""scikit-learn autolog: ``fit`` of every estimator, pipeline and search, with MLflow's names.

What a fit logs (into the active run, or a run it starts and ends):

- params: ``get_params(deep=True)`` (shallow for a parameter search, whose inner
  estimator is only a seed); tags ``estimator_name`` and ``estimator_class``; the
  training data as a dataset input (``nbtrack.data``, context ``train``);
- metrics on the training data: ``training_score`` (``estimator.score``) and,
  for classifiers ``training_accuracy_score``, ``training_precision_score``,
  ``training_recall_score``, ``training_f1_score`` (weighted, or binary with
  ``pos_label``), ``training_log_loss`` and ``training_roc_auc`` (with
  ``predict_proba``); for regressors ``training_mean_squared_error``,
  ``training_root_mean_squared_error``, ``training_mean_absolute_error``,
  ``training_r2_score``;
- the fitted model (``nbtrack.sklearn.log_model``, skops) under ``model``, with a
  signature inferred from the first rows; with ``log_input_examples`` those rows too;
- a search (``GridSearchCV``, ``RandomizedSearchCV``): ``best_cv_score``,
  ``best_<param>`` params, ``cv_results.csv``, the best estimator under
  ``best_estimator``, and a child run per candidate, the best ``max_tuning_runs``
  by rank (all with ``None``);
- after training, ``model.score(X_test, y_test)`` and ``sklearn.metrics`` calls on
  the model's predictions log ``<Class>_score_X_test`` / ``accuracy_score_X_test``
  (the dataset's variable name; a second call of the same metric gets ``-2``), as
  MLflow's post-training metrics do.
"""

from __future__ import annotations

import copy
import inspect
import logging
import math
import time
import weakref
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from nbtrack.autologging import _background, _core, _fast_metrics
from nbtrack.autologging._core import Session, Settings

FLAVOR = "sklearn"
TRAINING_PREFIX = "training_"
INPUT_EXAMPLE_ROWS = _core.INPUT_EXAMPLE_ROWS
_FIT_METHODS = ("fit", "fit_transform", "fit_predict")
_PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "transform")
# sklearn.metrics functions that are not scores of predictions (MLflow leaves them out too)
_NOT_METRICS = {
    "check_scoring", "get_scorer", "get_scorer_names", "make_scorer",
    "classification_report", "confusion_matrix", "multilabel_confusion_matrix",
    "auc", "roc_curve", "precision_recall_curve", "det_curve", "pair_confusion_matrix",
    "pairwise_distances", "pairwise_distances_argmin", "pairwise_distances_argmin_min",
    "pairwise_distances_chunked", "pairwise_kernels", "precision_recall_fscore_support",
    "class_likelihood_ratios", "silhouette_samples", "contingency_matrix",
}  # fmt: skip

log = logging.getLogger("nbtrack.autolog")


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    max_tuning_runs: int | None = 5,
    log_post_training_metrics: bool = True,
    serialization_format: str = "skops",
    registered_model_name: str | None = None,
    pos_label: Any = None,
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Log scikit-learn training automatically (MLflow's ``mlflow.sklearn.autolog``).

    See the module docstring for what is logged. ``disable=True`` removes the
    patches. ``exclusive``: only log into runs autolog starts itself.
    ``serialization_format`` is nbtrack's (``"skops"``, safe to load; ``"pickle"``
    loads only with ``allow_pickle=True``). ``disable_for_unsupported_versions``
    is accepted for MLflow compatibility (every scikit-learn >= 1.3 is supported).
    """
    from nbtrack.exceptions import InvalidInputError

    if max_tuning_runs is not None and max_tuning_runs < 0:
        raise InvalidInputError(f"max_tuning_runs must be >= 0 or None, not {max_tuning_runs}")
    del disable_for_unsupported_versions
    config = Settings(
        log_models=log_models,
        log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures,
        log_datasets=log_datasets,
        disable=disable,
        exclusive=exclusive,
        silent=silent,
        extra={
            "max_tuning_runs": max_tuning_runs,
            "log_post_training_metrics": log_post_training_metrics,
            "serialization_format": serialization_format,
            "registered_model_name": registered_model_name,
            "pos_label": pos_label,
            "extra_tags": dict(extra_tags or {}),
        },
    )
    _core.configure(FLAVOR, config, _install)


def _install() -> None:
    import sklearn.metrics  # type: ignore[import-untyped]
    from sklearn.utils import all_estimators  # type: ignore[import-untyped]

    for _, cls in all_estimators():
        for name in _FIT_METHODS:
            if hasattr(cls, name):
                _core.patch(FLAVOR, cls, name, _patched_fit)
        for name in _PREDICT_METHODS:
            if hasattr(cls, name):
                _core.patch(FLAVOR, cls, name, _patched_predict)
        if hasattr(cls, "score"):
            _core.patch(FLAVOR, cls, "score", _patched_score)
    for name in sklearn.metrics.__all__:
        function = getattr(sklearn.metrics, name)
        if (
            name not in _NOT_METRICS
            and not name.startswith("plot_")
            and inspect.isfunction(function)
        ):
            _core.patch(FLAVOR, sklearn.metrics, name, _patched_metric)


# -- fit -------------------------------------------------------------------------------


def _patched_fit(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    def before(session: Session) -> tuple[Any, Any, Any]:
        return _before_fit(session, self, args, kwargs)

    def after(session: Session, state: Any, _result: Any) -> None:
        if state is not None:
            _after_fit(session, self, *state)

    return _core.run_patched(FLAVOR, original, (self, *args), kwargs, before, after)


def _is_search(estimator: Any) -> bool:
    from sklearn.model_selection._search import BaseSearchCV  # type: ignore[import-untyped]

    return isinstance(estimator, BaseSearchCV)


def _x_y_weight(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """``fit(X, y, sample_weight=...)``'s data, however it was passed."""
    x = args[0] if args else kwargs.get("X", kwargs.get("x"))
    y = args[1] if len(args) > 1 else kwargs.get("y", kwargs.get("Y"))
    return x, y, kwargs.get("sample_weight")


def _before_fit(
    session: Session, estimator: Any, args: tuple[Any, ...], kwargs: Any
) -> tuple[Any, Any, Any]:
    x, y, weight = _x_y_weight(args, kwargs)
    config = _core.settings(FLAVOR) or Settings()
    _core.log_params(session, estimator.get_params(deep=not _is_search(estimator)))
    cls = type(estimator)
    tags = {
        "estimator_name": cls.__name__,
        "estimator_class": f"{cls.__module__}.{cls.__name__}",
        _core.AUTOLOGGING_TAG: FLAVOR,
        **config.extra.get("extra_tags", {}),
    }
    session.client.log_batch(session.run_id, tags=list(tags.items()))
    if config.log_datasets and x is not None:
        try:
            session.client.log_inputs(session.run_id, [(_dataset(x, y), "train", None)])
        except Exception as exc:  # data nbtrack.data cannot describe: no input record
            _core.report(FLAVOR, "log the training dataset", exc)
    return x, y, weight


def _dataset(x: Any, y: Any) -> Any:
    """The training data as an ``nbtrack.data`` dataset (MLflow logs it as a run input)."""
    from nbtrack import data

    if type(x).__module__.startswith("pandas"):
        return data.from_pandas(x, name="dataset")
    return data.from_numpy(x, targets=y, name="dataset")


def _after_fit(session: Session, estimator: Any, x: Any, y: Any, weight: Any) -> None:
    config = _core.settings(FLAVOR) or Settings()
    extra = config.extra
    run_id, client = session.run_id, session.client
    if y is not None:
        try:
            import sklearn

            # the inputs were validated by fit; the metrics' own checks cost most of their time
            with sklearn.config_context(skip_parameter_validation=True):
                metrics = training_metrics(estimator, x, y, weight, extra.get("pos_label"))
        except Exception as exc:  # an estimator whose predictions the metrics refuse
            _core.report(FLAVOR, "compute training metrics", exc)
        else:
            if metrics:
                now = int(time.time() * 1000)
                client.log_batch(run_id, metrics=[(k, v, now, 0) for k, v in metrics.items()])
    search = _is_search(estimator)
    if search:
        _log_search(session, estimator, config)
    if config.log_models and x is not None:
        _log_model(session, estimator, x, config, "model", extra.get("registered_model_name"))
        if search and hasattr(estimator, "best_estimator_"):
            _log_model(session, estimator.best_estimator_, x, config, "best_estimator", None)
    if extra.get("log_post_training_metrics", True):
        _post_training.register_model(estimator, run_id)


def training_metrics(
    estimator: Any, x: Any, y: Any, weight: Any = None, pos_label: Any = None
) -> dict[str, float]:
    """MLflow's training metrics of a fitted estimator (see the module docstring).

    Without sample weights or ``pos_label``, computed with numpy from one
    prediction (:mod:`._fast_metrics`); otherwise with scikit-learn's functions.
    """
    from sklearn.base import (  # type: ignore[import-untyped]
        ClassifierMixin,
        RegressorMixin,
        is_classifier,
        is_regressor,
    )

    found: dict[str, float] | None = None
    default_score: str | None = None
    if is_classifier(estimator):
        predicted = estimator.predict(x)
        proba = _proba(estimator, x)
        if weight is None and pos_label is None:
            found = _fast_metrics.classifier_metrics(
                y, predicted, proba, getattr(estimator, "classes_", None)
            )
        if found is None:
            found = _sklearn_classifier_metrics(estimator, y, predicted, proba, weight, pos_label)
        default_score = "accuracy_score" if _own_score(estimator) is ClassifierMixin.score else None
    elif is_regressor(estimator):
        predicted = estimator.predict(x)
        if weight is None:
            found = _fast_metrics.regressor_metrics(y, predicted)
        if found is None:
            found = _sklearn_regressor_metrics(y, predicted, weight)
        default_score = "r2_score" if _own_score(estimator) is RegressorMixin.score else None
    out = {TRAINING_PREFIX + k: v for k, v in (found or {}).items()}
    if default_score is not None and TRAINING_PREFIX + default_score in out:
        out[TRAINING_PREFIX + "score"] = out[TRAINING_PREFIX + default_score]  # what score() does
    elif hasattr(estimator, "score"):
        try:
            params = inspect.signature(estimator.score).parameters
            if weight is not None and "sample_weight" in params:
                out[TRAINING_PREFIX + "score"] = estimator.score(x, y, sample_weight=weight)
            else:
                out[TRAINING_PREFIX + "score"] = estimator.score(x, y)
        except Exception as exc:  # MLflow: warn, leave training_score out
            log.debug("nbtrack: training_score not logged: %s", exc)
    return {k: float(v) for k, v in out.items() if _loggable(v)}


def _own_score(estimator: Any) -> Any:
    method = inspect.getattr_static(type(estimator), "score", None)
    return getattr(method, "__wrapped__", method)  # under our patch, the original


def _proba(estimator: Any, x: Any) -> Any:
    if not hasattr(estimator, "predict_proba"):
        return None
    try:
        return estimator.predict_proba(x)
    except AttributeError:  # e.g. SVC(probability=False) exposes it, then refuses
        return None


def _sklearn_classifier_metrics(
    estimator: Any, y: Any, predicted: Any, proba: Any, weight: Any, pos_label: Any
) -> dict[str, float]:
    from sklearn import metrics as m

    out: dict[str, float] = {}
    average = "weighted" if pos_label is None else "binary"
    label = pos_label if pos_label is not None else 1
    for name, fn in (("precision_score", m.precision_score), ("recall_score", m.recall_score),
                     ("f1_score", m.f1_score)):  # fmt: skip
        out[name] = fn(
            y, predicted, pos_label=label, average=average, sample_weight=weight, zero_division=0
        )
    out["accuracy_score"] = m.accuracy_score(y, predicted, sample_weight=weight)
    if proba is not None:
        labels = getattr(estimator, "classes_", None)
        out["log_loss"] = m.log_loss(y, proba, sample_weight=weight, labels=labels)
        score = proba[:, 1] if proba.shape[1] == 2 else proba
        try:
            out["roc_auc"] = m.roc_auc_score(
                y, score, average="weighted", sample_weight=weight, multi_class="ovo",
                labels=labels if proba.shape[1] > 2 else None,
            )  # fmt: skip
        except ValueError as exc:  # one class only in y, ...
            log.debug("nbtrack: training_roc_auc not logged: %s", exc)
    return out


def _sklearn_regressor_metrics(y: Any, predicted: Any, weight: Any) -> dict[str, float]:
    from sklearn import metrics as m

    mse = float(m.mean_squared_error(y, predicted, sample_weight=weight))
    return {
        "mean_squared_error": mse,
        "root_mean_squared_error": mse**0.5,
        "mean_absolute_error": m.mean_absolute_error(y, predicted, sample_weight=weight),
        "r2_score": m.r2_score(y, predicted, sample_weight=weight),
    }


def _loggable(value: Any) -> bool:
    try:
        return not isinstance(value, bool) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _log_model(
    session: Session, estimator: Any, x: Any, config: Settings, name: str,
    registered_model_name: str | None,
) -> None:  # fmt: skip
    """Snapshot the fitted model now; write it in the background (:mod:`._background`).

    The snapshot is a deep copy, so the model logged is the one this fit made
    even if the estimator is refit (or changed) before the worker gets to it.
    """
    example = None
    if x is not None and (config.log_input_examples or config.log_model_signatures):
        try:
            example = copy.deepcopy(x[:INPUT_EXAMPLE_ROWS])  # a slice may be a view of x
        except Exception as exc:  # an input that does not slice
            _core.report(FLAVOR, "take the input example", exc)
    client, run_id = session.client, session.run_id
    try:
        snapshot = copy.deepcopy(estimator)
    except Exception as exc:  # something in the estimator refuses a copy: write it now
        log.debug("nbtrack: %s not copied (%s); its model is written now", type(estimator), exc)
        try:
            _write_model(client, run_id, estimator, example, config, name, registered_model_name)
        except Exception as exc:
            _core.report(FLAVOR, f"log the model ({name})", exc)
        return
    _background.submit(
        run_id,
        FLAVOR,
        f"log the model ({name})",
        lambda: _write_model(
            client, run_id, snapshot, example, config, name, registered_model_name
        ),
    )


def _write_model(
    client: Any, run_id: str, model: Any, example: Any, config: Settings, name: str,
    registered_model_name: str | None,
) -> None:  # fmt: skip
    from nbtrack.models import _api

    example, signature = _core.example_and_signature(FLAVOR, FLAVOR, model, example, config)
    _core.log_model_once(
        lambda path: _api.log_model_into(
            client,
            run_id,
            FLAVOR,
            model,
            path,
            input_example=example,
            signature=signature,
            serialization=config.extra.get("serialization_format", "skops"),
            registered_model_name=registered_model_name,
            signature_from_example=False,
        ),
        name,
        run_id,
    )


def _log_search(session: Session, search: Any, config: Settings) -> None:
    import numpy as np

    client, run_id = session.client, session.run_id
    if hasattr(search, "best_score_"):
        client.log_metric(run_id, "best_cv_score", float(search.best_score_), step=0)
    if hasattr(search, "best_params_"):
        _core.log_params(session, {f"best_{k}": v for k, v in search.best_params_.items()})
        run_id = session.run_id
    results = getattr(search, "cv_results_", None)
    if results is None:
        return
    import pandas as pd

    frame = pd.DataFrame(results)
    client.log_text(run_id, frame.to_csv(index=False), "cv_results.csv")
    limit = config.extra.get("max_tuning_runs", 5)
    rank = next((c for c in frame.columns if str(c).startswith("rank_test_")), None)
    order = list(np.argsort(frame[rank].to_numpy(), kind="stable")) if rank else list(frame.index)
    chosen = order if limit is None else order[:limit]
    if limit is not None and len(order) > limit:
        log.info("nbtrack: %d candidates; child runs for the best %d (max_tuning_runs)",
                 len(order), limit)  # fmt: skip
    base = search.estimator.get_params(deep=True)
    run = client.get_run(run_id)
    numeric = [
        c for c in frame.columns
        if c != "params" and not str(c).startswith("param_")
        and pd.api.types.is_numeric_dtype(frame[c])
    ]  # fmt: skip
    now = int(time.time() * 1000)
    for index in chosen:
        row = frame.iloc[int(index)]
        child = client.create_run(
            run.info.experiment_id,
            # MLflow's parent tag too: `tags.mlflow.parentRunId = '...'` finds the children
            tags={_core.AUTOLOGGING_TAG: FLAVOR, "mlflow.parentRunId": run_id},
            parent_run_id=run_id,
        )
        params = base | dict(row["params"])
        client.log_batch(
            child.info.run_id,
            params=[(str(k), _core._param_text(v, 6000)) for k, v in params.items()],
            metrics=[(str(c), float(row[c]), now, 0) for c in numeric if _loggable(row[c])],
        )
        client.set_terminated(child.info.run_id)


# -- post-training metrics --------------------------------------------------------------


class _PostTraining:
    """Which models autolog fitted, which predictions they made, and metric call counts."""

    def __init__(self) -> None:
        self.models: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        self.predictions: dict[int, tuple[str, str]] = {}
        self.datasets: defaultdict[str, defaultdict[str, list[int]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self.calls: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))

    def register_model(self, model: Any, run_id: str) -> None:
        try:
            self.models[model] = run_id
        except TypeError:  # not weak-referenceable or unhashable: no post-training metrics
            log.debug("nbtrack: %s cannot be tracked for post-training metrics", type(model))

    def run_of(self, model: Any) -> str | None:
        try:
            return self.models.get(model)
        except TypeError:
            return None

    def dataset_name(self, run_id: str, dataset: Any) -> str:
        name = _core.caller_variable_name(dataset, "unknown_dataset")
        seen = self.datasets[run_id][name]
        if id(dataset) not in seen:
            seen.append(id(dataset))
        index = seen.index(id(dataset))
        return name if index == 0 else f"{name}-{index + 1}"

    def register_prediction(self, result: Any, run_id: str, dataset: str) -> None:
        key = id(result)
        try:
            weakref.finalize(result, self.predictions.pop, key, None)
        except TypeError:  # a list or tuple: cannot be followed safely by id
            return
        self.predictions[key] = (run_id, dataset)

    def metric_key(self, run_id: str, metric: str, dataset: str) -> str:
        count = self.calls[run_id][metric]
        self.calls[run_id][metric] = count + 1
        name = metric if count == 0 else f"{metric}-{count + 1}"
        return f"{name}_{dataset}"


_post_training = _PostTraining()


def _post_training_on() -> bool:
    config = _core.settings(FLAVOR)
    return (
        config is not None
        and bool(config.extra.get("log_post_training_metrics", True))
        and not _core.in_patch()
    )


def _log_post_training(run_id: str, key: str, value: Any) -> None:
    from nbtrack.client import TrackingClient

    if _loggable(value):
        TrackingClient().log_metric(run_id, key, float(value))


def _patched_predict(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    if not _post_training_on():
        return original(self, *args, **kwargs)
    run_id = _post_training.run_of(self)
    if run_id is None:
        return original(self, *args, **kwargs)
    with _core.patch_scope():
        result = original(self, *args, **kwargs)
    try:
        dataset = args[0] if args else next(iter(kwargs.values()), None)
        _post_training.register_prediction(
            result, run_id, _post_training.dataset_name(run_id, dataset)
        )
    except Exception as exc:
        _core.report(FLAVOR, "follow a prediction", exc)
    return result


def _patched_score(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    run_id = _post_training.run_of(self) if _post_training_on() else None
    if run_id is None:
        return original(self, *args, **kwargs)
    with _core.patch_scope():
        value = original(self, *args, **kwargs)
    try:
        dataset = args[0] if args else next(iter(kwargs.values()), None)
        name = _post_training.dataset_name(run_id, dataset)
        key = _post_training.metric_key(run_id, f"{type(self).__name__}_score", name)
        _log_post_training(run_id, key, value)
    except Exception as exc:
        _core.report(FLAVOR, "log a post-training score", exc)
    return value


def _patched_metric(original: Any, *args: Any, **kwargs: Any) -> Any:
    if not _post_training_on() or not _post_training.predictions:
        return original(*args, **kwargs)
    with _core.patch_scope():
        value = original(*args, **kwargs)
    try:
        for arg in (*args, *kwargs.values()):
            found = _post_training.predictions.get(id(arg))
            if found is not None:
                run_id, dataset = found
                key = _post_training.metric_key(run_id, original.__name__, dataset)
                _log_post_training(run_id, key, value)
                break
    except Exception as exc:
        _core.report(FLAVOR, "log a post-training metric", exc)
    return value
