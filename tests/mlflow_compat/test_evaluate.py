"""``nbtrack.evaluate``: MLflow's default evaluator for sklearn classifiers and regressors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris, make_classification
from sklearn.linear_model import LinearRegression, LogisticRegression

import nbtrack
from nbtrack.exceptions import InvalidInputError


def test_binary_classifier_metrics_and_plots() -> None:
    features, labels = make_classification(n_samples=200, n_features=5, random_state=0)
    X = pd.DataFrame(features, columns=[f"f{i}" for i in range(5)])
    y = pd.Series(labels)
    model = LogisticRegression().fit(X, y)
    data = X.assign(label=y)
    with nbtrack.start_run() as run:
        result = nbtrack.evaluate(model, data, targets="label", model_type="classifier")
    metrics = nbtrack.get_run(run.info.run_id).data.metrics
    expected = {
        "example_count",
        "accuracy_score",
        "recall_score",
        "precision_score",
        "f1_score",
        "log_loss",
        "roc_auc",
        "precision_recall_auc",
        "true_positives",
        "true_negatives",
        "false_positives",
        "false_negatives",
    }
    assert expected <= set(metrics)
    assert metrics == result.metrics
    assert metrics["example_count"] == len(y)
    assert metrics["accuracy_score"] == pytest.approx(model.score(X, y))
    assert metrics["true_positives"] + metrics["false_negatives"] == int(y.sum())
    assert 0.8 < metrics["roc_auc"] <= 1.0
    files = {a.path for a in nbtrack.MlflowClient().list_artifacts(run.info.run_id)}
    assert files == {
        "confusion_matrix.png",
        "roc_curve_plot.png",
        "precision_recall_curve_plot.png",
    }
    png = nbtrack.MlflowClient().read_artifact(run.info.run_id, "roc_curve_plot.png")
    assert png.startswith(b"\x89PNG")
    assert result.artifacts["confusion_matrix"] == f"runs:/{run.info.run_id}/confusion_matrix.png"


def test_multiclass_classifier_on_arrays() -> None:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=2000).fit(X, y)
    result = nbtrack.evaluate(model, X, targets=y, model_type="classifier")
    assert result.metrics["accuracy_score"] == pytest.approx(model.score(X, y))
    assert "true_positives" not in result.metrics
    assert "roc_auc" in result.metrics
    assert set(result.artifacts) == {"confusion_matrix"}
    nbtrack.end_run()


def test_regressor_metrics() -> None:
    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(X, y)
    with nbtrack.start_run():
        result = nbtrack.evaluate(model, X, targets=y, model_type="regressor")
    predicted = model.predict(X)
    assert result.metrics["mean_squared_error"] == pytest.approx(np.mean((y - predicted) ** 2))
    assert result.metrics["root_mean_squared_error"] == pytest.approx(
        np.sqrt(result.metrics["mean_squared_error"])
    )
    assert result.metrics["r2_score"] == pytest.approx(model.score(X, y))
    assert result.artifacts == {}


def test_static_predictions_and_bad_input() -> None:
    frame = pd.DataFrame({"label": [0, 1, 1, 0], "pred": [0, 1, 0, 0]})
    with nbtrack.start_run():
        result = nbtrack.evaluate(
            data=frame, targets="label", predictions="pred", model_type="classifier"
        )
        assert result.metrics["accuracy_score"] == 0.75
        with pytest.raises(InvalidInputError, match="model_type 'question-answering'"):
            nbtrack.evaluate(data=frame, targets="label", model_type="question-answering")
        with pytest.raises(InvalidInputError, match="targets column 'nope'"):
            nbtrack.evaluate(lambda x: x, frame, targets="nope", model_type="regressor")
