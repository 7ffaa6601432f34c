"""Real models and a real user module for the model and registry tests."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# A module of user code: custom model classes and a transformer function, as a
# user would keep them in a .py file next to the notebook.
USER_CODE = '''
import json
import numpy as np


def double(x):
    return x * 2


class Threshold:
    """predict(model_input): 1 where the first column exceeds the threshold."""

    def __init__(self, threshold):
        self.threshold = threshold
        self.labels = [0, 1]

    def predict(self, model_input):
        values = np.asarray(model_input, dtype=float)[:, 0]
        return np.where(values > self.threshold, self.labels[1], self.labels[0])


class ScaledFromArtifact:
    """MLflow's shape: predict(context, model_input); a factor read from an artifact."""

    def load_context(self, context):
        with open(context.artifacts["config"]) as f:
            self.factor = json.load(f)["factor"]

    def predict(self, context, model_input, params=None):
        return np.asarray(model_input, dtype=float).sum(axis=1) * self.factor


class Opaque:
    """Holds an object of a type skops does not trust."""

    def __init__(self):
        self.helper = Helper()

    def predict(self, model_input):
        return np.zeros(len(model_input))


class Helper:
    pass
'''


def iris() -> tuple[pd.DataFrame, pd.Series[Any]]:
    """The iris features (DataFrame) and labels."""
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


def iris_classifier() -> tuple[Any, pd.DataFrame]:
    """A fitted LogisticRegression on iris, and the features."""
    X, y = iris()
    return LogisticRegression(max_iter=500).fit(X, y), X


def diabetes_pipeline() -> tuple[Any, pd.DataFrame]:
    """A fitted StandardScaler + Ridge pipeline on diabetes, and the features."""
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return make_pipeline(StandardScaler(), Ridge(alpha=0.5)).fit(X, y), X


def write_user_module(directory: Path) -> ModuleType:
    """Write USER_CODE as a uniquely named module in ``directory`` and import it."""
    name = f"user_models_{uuid.uuid4().hex[:8]}"
    (directory / f"{name}.py").write_text(textwrap.dedent(USER_CODE))
    sys.path.insert(0, str(directory))
    importlib.invalidate_caches()
    return importlib.import_module(name)


def forget_user_module(module: ModuleType, directory: Path) -> None:
    """Undo :func:`write_user_module`."""
    sys.modules.pop(module.__name__, None)
    if str(directory) in sys.path:
        sys.path.remove(str(directory))
