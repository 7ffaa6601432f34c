# From mlflow/mlflow examples/sklearn_logistic_regression/train.py @ 06dd20b18a54c9390d365dd5f13bbd0ba0bc27aa
# Copyright the MLflow authors, Apache License 2.0 (see NOTICE.md at mlflow_source/); unchanged below this header.
import numpy as np
from sklearn.linear_model import LogisticRegression

import mlflow
import mlflow.sklearn
from mlflow.models import infer_signature

if __name__ == "__main__":
    X = np.array([-2, -1, 0, 1, 2, 1]).reshape(-1, 1)
    y = np.array([0, 0, 1, 1, 1, 0])
    lr = LogisticRegression()
    lr.fit(X, y)
    score = lr.score(X, y)
    print(f"Score: {score}")
    mlflow.log_metric("score", score)
    predictions = lr.predict(X)
    signature = infer_signature(X, predictions)
    mlflow.sklearn.log_model(lr, "model", signature=signature, input_example=X)
    print(f"Model saved in run {mlflow.active_run().info.run_id}")
