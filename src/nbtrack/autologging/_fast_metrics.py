"""MLflow's training metrics computed with numpy: the same values, a fraction of the time.

scikit-learn's metric functions re-validate their inputs (``check_array``,
type inference) on every call, which costs tens of milliseconds per fit for
a small model on a busy machine: more than the fit. For the common case (1-d
targets, no sample weights, every label seen by the classifier) these give
the same numbers from one confusion matrix and one sort; anything else
returns None and the caller uses scikit-learn's functions.
Tests compare both on real estimators.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def classifier_metrics(y: Any, predicted: Any, proba: Any, classes: Any) -> dict[str, float] | None:
    """accuracy, weighted precision/recall/f1, log_loss and OvO-weighted roc_auc; None if odd."""
    y_arr = np.asarray(y)
    if y_arr.ndim != 1 or classes is None:
        return None
    classes = np.asarray(classes)
    true = _encode(y_arr, classes)
    pred = _encode(np.asarray(predicted), classes)
    if true is None or pred is None:  # a label the classifier does not know: sklearn decides
        return None
    k = len(classes)
    present = np.unique(np.concatenate([true, pred]))
    confusion = np.bincount(true * k + pred, minlength=k * k).reshape(k, k).astype(np.float64)
    support = confusion.sum(axis=1)
    tp = np.diag(confusion)
    predicted_count = confusion.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted_count > 0, tp / predicted_count, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
    weights = support[present] / support[present].sum()
    out = {
        "accuracy_score": float(tp.sum() / len(true)),
        "precision_score": float(precision[present] @ weights),
        "recall_score": float(recall[present] @ weights),
        "f1_score": float(f1[present] @ weights),
    }
    if proba is not None:
        p = np.asarray(proba, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != k:
            return out
        eps = np.finfo(p.dtype).eps
        clipped = np.clip(p / p.sum(axis=1, keepdims=True), eps, 1 - eps)
        out["log_loss"] = float(-np.mean(np.log(clipped[np.arange(len(true)), true])))
        auc = _roc_auc(true, p, k)
        if auc is not None:
            out["roc_auc"] = auc
    return out


def _encode(values: Any, classes: Any) -> np.ndarray[Any, Any] | None:
    """Indices of ``values`` in the sorted ``classes`` (sklearn's ``classes_``), or None."""
    if values.ndim != 1 or len(classes) == 0:
        return None
    try:
        found = np.searchsorted(classes, values)
    except TypeError:  # labels of mixed types
        return None
    inside = np.clip(found, 0, len(classes) - 1)
    if not np.array_equal(classes[inside], values):
        return None
    encoded: np.ndarray[Any, Any] = inside.astype(np.intp)
    return encoded


def _auc(positive: FloatArray, negative: FloatArray) -> float:
    """Area under the ROC curve: P(score of a positive > a negative), ties count half."""
    scores = np.concatenate([positive, negative])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(average, counts)
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _roc_auc(true: np.ndarray[Any, Any], proba: FloatArray, k: int) -> float | None:
    if k == 2:
        positive, negative = proba[true == 1, 1], proba[true == 0, 1]
        if not len(positive) or not len(negative):
            return None
        return _auc(positive, negative)
    labels = np.unique(true)
    if len(labels) != k:
        return None  # sklearn refuses y without every class for multi-class roc_auc
    total = 0.0
    weight_sum = 0.0
    for i_index, a in enumerate(labels):
        for b in labels[i_index + 1 :]:
            mask_a, mask_b = true == a, true == b
            a_vs_b = _auc(proba[mask_a, a], proba[mask_b, a])
            b_vs_a = _auc(proba[mask_b, b], proba[mask_a, b])
            prevalence = (mask_a.sum() + mask_b.sum()) / len(true)
            total += prevalence * (a_vs_b + b_vs_a) / 2
            weight_sum += prevalence
    return float(total / weight_sum)


def regressor_metrics(y: Any, predicted: Any) -> dict[str, float] | None:
    """mse, rmse, mae and r2 of 1-d targets; None otherwise."""
    true = np.asarray(y, dtype=np.float64)
    pred = np.asarray(predicted, dtype=np.float64)
    if true.ndim != 1 or pred.shape != true.shape or len(true) < 2:
        return None
    error = true - pred
    mse = float(np.mean(error**2))
    total = float(np.sum((true - true.mean()) ** 2))
    r2 = 1 - float(np.sum(error**2)) / total if total > 0 else (1.0 if mse == 0 else 0.0)
    return {
        "mean_squared_error": mse,
        "root_mean_squared_error": mse**0.5,
        "mean_absolute_error": float(np.mean(np.abs(error))),
        "r2_score": r2,
    }
