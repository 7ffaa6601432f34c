# From mlflow/mlflow examples/quickstart/mlflow_tracking.py @ 200a6067fe783c338e80b41a5a58062d3c42887d
# Copyright the MLflow authors, Apache License 2.0 (see NOTICE.md at mlflow_source/); unchanged below this header.
import os
from random import random, randint

from mlflow import log_metric, log_param, log_artifacts

if __name__ == "__main__":
    print("Running mlflow_tracking.py")

    log_param("param1", randint(0, 100))

    log_metric("foo", random())
    log_metric("foo", random() + 1)
    log_metric("foo", random() + 2)
    log_metric("accuracy 2", random())

    if not os.path.exists("outputs"):
        os.makedirs("outputs")
    with open("outputs/test.txt", "w") as f:
        f.write("hello world!")

    log_artifacts("outputs")
