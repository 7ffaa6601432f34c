"""``nbtrack.evaluate``: MLflow's default evaluator for classifiers and regressors.

Scores a model on a labelled dataset, logs the metrics to the active run
(starting one if none is active, as ``log_metric`` does) under MLflow's names
(``accuracy_score``, ``f1_score``, ``roc_auc``, ``mean_squared_error``, ...)
and, for classifiers, its plots as PNG artifacts (``confusion_matrix.png``;
for binary classifiers with probabilities also ``roc_curve_plot.png`` and
``precision_recall_curve_plot.png``). scikit-learn, pandas, numpy and
matplotlib are imported only when it is called.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nbtrack import fluent
from nbtrack.exceptions import InvalidInputError


@dataclass(frozen=True)
class EvaluationResult:
    """What ``evaluate`` computed: ``metrics`` by name, ``artifacts`` by name -> artifact URI."""

    metrics: dict[str, float]
    artifacts: dict[str, str] = field(default_factory=dict)
    run_id: str = ""


def _predictor(model: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any] | None]:
    """``(predict, predict_proba or None)`` for a model object or a model URI."""
    if isinstance(model, str | os.PathLike):
        from nbtrack.models import load_model

        loaded = load_model(model)
        raw = getattr(loaded, "unwrap_python_model", None)
        inner = raw() if callable(raw) else None
        proba = getattr(inner, "predict_proba", None) if inner is not None else None
        return loaded.predict, proba
    if callable(getattr(model, "predict", None)):
        proba = getattr(model, "predict_proba", None)
        return model.predict, proba if callable(proba) else None
    if callable(model):
        return model, None
    raise InvalidInputError(
        f"evaluate takes a fitted model (with .predict), a callable or a model URI, "
        f"got {type(model).__name__}"
    )


def _split(data: Any, targets: Any, feature_names: Sequence[str] | None) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        if isinstance(targets, str):
            if targets not in data.columns:
                raise InvalidInputError(
                    f"targets column {targets!r} is not in the data "
                    f"(columns: {', '.join(map(str, data.columns))})"
                )
            features = data.drop(columns=[targets])
            labels = data[targets].to_numpy()
        else:
            features, labels = data, np.asarray(targets)
        if feature_names is not None:
            features = features[list(feature_names)]
        return features, labels
    if targets is None or isinstance(targets, str):
        raise InvalidInputError(
            "evaluate: with array data, pass targets as the array of labels "
            "(a column name works with a DataFrame)"
        )
    return np.asarray(data), np.asarray(targets)


def _classifier_metrics(y: Any, predicted: Any, proba: Any) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics as m  # type: ignore[import-untyped]

    classes = np.unique(np.concatenate([np.asarray(y), np.asarray(predicted)]))
    binary = len(classes) <= 2
    average = "binary" if binary else "weighted"
    pos_label = classes[-1] if binary else 1
    out: dict[str, float] = {"example_count": float(len(y))}
    if binary and len(classes) == 2:
        tn, fp, fn, tp = m.confusion_matrix(y, predicted, labels=classes).ravel()
        out.update(
            true_negatives=float(tn),
            false_positives=float(fp),
            false_negatives=float(fn),
            true_positives=float(tp),
        )
    kwargs: dict[str, Any] = {"average": average, "zero_division": 0}
    if binary:
        kwargs["pos_label"] = pos_label
    out["accuracy_score"] = float(m.accuracy_score(y, predicted))
    out["recall_score"] = float(m.recall_score(y, predicted, **kwargs))
    out["precision_score"] = float(m.precision_score(y, predicted, **kwargs))
    out["f1_score"] = float(m.f1_score(y, predicted, **kwargs))
    if proba is not None:
        out["log_loss"] = float(m.log_loss(y, proba))
        if binary:
            scores = proba[:, 1]
            out["roc_auc"] = float(m.roc_auc_score(y, scores))
            precision, recall, _ = m.precision_recall_curve(y, scores, pos_label=pos_label)
            out["precision_recall_auc"] = float(m.auc(recall, precision))
        else:
            out["roc_auc"] = float(m.roc_auc_score(y, proba, multi_class="ovr", average="weighted"))
    return out


def _regressor_metrics(y: Any, predicted: Any) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics as m

    y = np.asarray(y, dtype=float)
    predicted = np.asarray(predicted, dtype=float).reshape(y.shape)
    mse = float(m.mean_squared_error(y, predicted))
    return {
        "example_count": float(len(y)),
        "mean_absolute_error": float(m.mean_absolute_error(y, predicted)),
        "mean_squared_error": mse,
        "root_mean_squared_error": math.sqrt(mse),
        "sum_on_target": float(np.sum(y)),
        "mean_on_target": float(np.mean(y)),
        "r2_score": float(m.r2_score(y, predicted)),
        "max_error": float(m.max_error(y, predicted)),
        "mean_absolute_percentage_error": float(m.mean_absolute_percentage_error(y, predicted)),
    }


def _png(draw: Callable[[Any], None]) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 4))
    try:
        draw(axes)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


def _classifier_plots(y: Any, predicted: Any, proba: Any) -> dict[str, bytes]:
    import numpy as np
    from sklearn import metrics as m

    plots = {
        "confusion_matrix": _png(
            lambda ax: m.ConfusionMatrixDisplay.from_predictions(y, predicted, ax=ax)
        )
    }
    if proba is not None and len(np.unique(y)) == 2 and proba.shape[1] == 2:
        scores = proba[:, 1]
        plots["roc_curve_plot"] = _png(
            lambda ax: m.RocCurveDisplay.from_predictions(y, scores, ax=ax)
        )
        plots["precision_recall_curve_plot"] = _png(
            lambda ax: m.PrecisionRecallDisplay.from_predictions(y, scores, ax=ax)
        )
    return plots


def evaluate(
    model: Any = None,
    data: Any = None,
    *,
    targets: Any = None,
    model_type: str | None = None,
    feature_names: Sequence[str] | None = None,
    predictions: str | None = None,
    evaluators: Any = None,
    evaluator_config: Any = None,
) -> EvaluationResult:
    """Score ``model`` on ``data`` and log MLflow's default metrics and plots to the run.

    ``model``: a fitted estimator, a callable, or a model URI (``runs:/...``,
    ``models:/...``); or None with ``predictions`` naming a column of ``data``
    that holds them. ``data``: a DataFrame (``targets`` is then a column name)
    or an array (``targets`` the labels). ``model_type``: ``"classifier"`` or
    ``"regressor"``.
    """
    if model_type not in ("classifier", "regressor"):
        raise InvalidInputError(
            f"model_type {model_type!r} is not supported; use 'classifier' or 'regressor' "
            "(MLflow's LLM and question-answering evaluators are not in nbtrack)"
        )
    if evaluators not in (None, "default", ["default"]):
        raise InvalidInputError(f"only the default evaluator is available, not {evaluators!r}")
    del evaluator_config  # the default evaluator's options (SHAP, ...) are not supported
    if data is None:
        raise InvalidInputError("evaluate needs data (with targets)")
    if model is None:
        import pandas as pd

        if not isinstance(data, pd.DataFrame) or predictions not in data.columns:
            raise InvalidInputError(
                "evaluate without a model needs a DataFrame and predictions='<its column>'"
            )
        features, y = _split(data.drop(columns=[predictions]), targets, feature_names)
        predicted, proba = data[predictions].to_numpy(), None
    else:
        predict, predict_proba = _predictor(model)
        features, y = _split(data, targets, feature_names)
        predicted = predict(features)
        proba = None
        if model_type == "classifier" and predict_proba is not None:
            import numpy as np

            proba = np.asarray(predict_proba(features))
    if model_type == "classifier":
        metrics = _classifier_metrics(y, predicted, proba)
        plots = _classifier_plots(y, predicted, proba)
    else:
        metrics, plots = _regressor_metrics(y, predicted), {}
    run = fluent._run()
    run.client.log_batch(run.info.run_id, metrics=[(k, v, None, 0) for k, v in metrics.items()])
    artifacts = {}
    for name, png in plots.items():
        path = run.client.log_bytes(run.info.run_id, png, f"{name}.png")
        artifacts[name] = f"{run.info.artifact_uri.rstrip('/')}/{path}"
    return EvaluationResult(metrics=metrics, artifacts=artifacts, run_id=run.info.run_id)
