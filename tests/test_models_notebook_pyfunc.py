"""A ``PythonModel`` defined in a notebook: logged in one kernel, loaded in another.

MLflow pickles such a model with cloudpickle; so does nbtrack. The kernel that
loads it by ``runs:/`` URI from the same store does so in one call (the run
that logged it recorded its hashes); a copy of the model directory is refused
until the caller opts in, by nbtrack's loader and by MLflow's.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import nbtrack

LOG = """
import json
import nbtrack
import pandas as pd


class AddN(nbtrack.pyfunc.PythonModel):
    def __init__(self, n):
        self.n = n

    def predict(self, context, model_input, params=None):
        return model_input.apply(lambda column: column + self.n)


with nbtrack.start_run() as run:
    info = nbtrack.pyfunc.log_model(
        name="add_n", python_model=AddN(5), input_example=pd.DataFrame({"x": [1.0]})
    )
print("RESULT " + json.dumps({"uri": info.model_uri, "serialization": info.metadata.serialization}))
"""

LOAD = """
import json
import nbtrack
import pandas as pd
from nbtrack.models import UnsafeModelError

out = {"main_has_addn": "AddN" in dir(__import__("__main__"))}
frame = pd.DataFrame({"x": [1.0, 2.0]})
out["own"] = nbtrack.pyfunc.load_model(URI).predict(frame)["x"].tolist()
run_id = URI.split("/")[1]
copy = nbtrack.TrackingClient().download_artifacts(run_id, "add_n", "elsewhere")
try:
    nbtrack.pyfunc.load_model(copy)
    out["copy"] = "loaded"
except UnsafeModelError as exc:
    out["copy"] = str(exc)
try:
    import mlflow.pyfunc

    mlflow.pyfunc.load_model(copy)
    out["mlflow"] = "loaded"
except UnsafeModelError as exc:
    out["mlflow"] = str(exc)
out["opt_in"] = nbtrack.pyfunc.load_model(copy, allow_pickle=True).predict(frame)["x"].tolist()
print("RESULT " + json.dumps(out))
"""


def _run(source: str, cwd: Path) -> dict[str, object]:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    text = "".join(o.get("text", "") for o in notebook.cells[0].outputs)
    line = next(x for x in text.splitlines() if x.startswith("RESULT "))
    result: dict[str, object] = json.loads(line[len("RESULT ") :])
    return result


@pytest.mark.slow
def test_a_notebook_model_loads_in_another_kernel_from_its_store_only(
    tmp_path: Path, client: nbtrack.TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NBTRACK_ALLOW_PICKLE", raising=False)
    monkeypatch.delenv("NBTRACK_TRUST_CODE", raising=False)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    logged = _run(LOG, tmp_path / "a")  # the kernels inherit this test's store
    assert logged["serialization"] == "cloudpickle"
    uri = str(logged["uri"])
    loaded = _run(f"URI = {uri!r}\n" + LOAD, tmp_path / "b")
    assert loaded["main_has_addn"] is False  # the class exists only inside the pickle
    assert loaded["own"] == [6.0, 7.0]
    assert "allow_pickle=True" in str(loaded["copy"])
    assert "NBTRACK_ALLOW_PICKLE=1" in str(loaded["mlflow"])
    assert loaded["opt_in"] == [6.0, 7.0]
