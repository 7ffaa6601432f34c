"""Loading a model directory runs none of the code it names before the trust decision.

Each planted module writes a marker file when imported: the marker must never
appear unless the caller opted in. Checked in-process, in a plain Python
process whose working directory holds the model (``''`` on ``sys.path``, as a
script sees it) and in a real Jupyter kernel, through nbtrack's loader and
through MLflow's own ``mlflow.pyfunc.load_model``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import nbformat
import numpy as np
import pytest
from _planted_models import model_naming, planted_module

import nbtrack
from nbtrack.models import UnsafeModelError

# Loads every planted model from the working directory and prints what happened as JSON.
PROBE = """
import json, os, sys
import nbtrack
from nbtrack.models import UnsafeModelError

results = {}
for uri, cwd in [("shipped", "."), ("nearby_model", "."), (".", "flat")]:
    here = os.getcwd()
    os.chdir(cwd)
    try:
        nbtrack.pyfunc.load_model(uri)
        results[cwd + "/" + uri] = "loaded"
    except UnsafeModelError as exc:
        results[cwd + "/" + uri] = "refused: " + str(exc)
    finally:
        os.chdir(here)
try:
    import mlflow.pyfunc
    mlflow.pyfunc.load_model("shipped")
    results["mlflow"] = "loaded"
except UnsafeModelError as exc:
    results["mlflow"] = "refused: " + str(exc)
results["path_has_cwd"] = "" in sys.path or os.getcwd() in sys.path
results["imported"] = sorted(m for m in ("shipped.evil", "nearby", "evil2") if m in sys.modules)
print("RESULT " + json.dumps(results))
"""


@pytest.fixture
def scene(tmp_path: Path) -> dict[str, Path]:
    """A working directory holding three hostile models, and where their markers would go."""
    work = tmp_path / "work"
    work.mkdir()
    markers = tmp_path / "markers"
    markers.mkdir()
    found = {
        # importable as a namespace package from the model's parent: shipped/evil.py
        "shipped": model_naming(
            work / "shipped", "shipped.evil:Model", {"evil": markers / "shipped"}
        ),
        # a module dropped next to the notebook with the model
        "nearby_model": model_naming(work / "nearby_model", "nearby:Model"),
        # importable when the working directory is the model directory itself
        "flat": model_naming(work / "flat", "evil2:Model", {"evil2": markers / "flat"}),
    }
    planted_module(work, "nearby", markers / "nearby")
    return {"work": work, "markers": markers, **found}


def _result(output: str) -> dict[str, object]:
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    result: dict[str, object] = json.loads(line[len("RESULT ") :])
    return result


def _check_all_refused(result: dict[str, object], markers: Path) -> None:
    assert result["path_has_cwd"] is True  # the planted modules were importable
    refused = {k: v for k, v in result.items() if isinstance(v, str) and v.startswith("refused")}
    assert set(refused) == {"./shipped", "./nearby_model", "flat/.", "mlflow"}, result
    assert "'shipped.evil'" in refused["./shipped"]
    assert "inside the model directory" in refused["./shipped"]
    assert "trust_code=True" in refused["./shipped"]
    assert "'nearby'" in refused["./nearby_model"]
    assert "(the working directory)" in refused["./nearby_model"]
    assert "'evil2'" in refused["flat/."]
    assert "NBTRACK_TRUST_CODE=1" in refused["mlflow"]
    assert result["imported"] == []
    assert list(markers.iterdir()) == []


@pytest.mark.slow
def test_a_plain_process_imports_nothing_a_model_names(scene: dict[str, Path]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=scene["work"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    _check_all_refused(_result(done.stdout), scene["markers"])

    # The planted code is live: with the explicit opt-in it runs (and only then).
    opt_in = "import nbtrack; nbtrack.pyfunc.load_model('shipped', trust_code=True)"
    done = subprocess.run(
        [sys.executable, "-c", opt_in], cwd=scene["work"], capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert [m.name for m in scene["markers"].iterdir()] == ["shipped"]


@pytest.mark.slow
def test_a_jupyter_kernel_imports_nothing_a_model_names(scene: dict[str, Path]) -> None:
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE)])
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(scene["work"])}},
    ).execute()
    output = "".join(o.get("text", "") for o in notebook.cells[0].outputs)
    _check_all_refused(_result(output), scene["markers"])


def test_an_installed_module_named_by_a_model_is_not_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``this:Nope`` printed the Zen of Python: naming a module ran its import side effects."""
    site = tmp_path / "site"
    site.mkdir()
    name = f"sidefx_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "marker"
    planted_module(site, name, marker)
    monkeypatch.syspath_prepend(str(site))  # installed-looking: outside cwd and the model
    model = model_naming(tmp_path / "models" / "m", f"{name}:Model")

    with pytest.raises(UnsafeModelError, match=rf"'{name}' is not imported.*import {name}\)"):
        nbtrack.pyfunc.load_model(model)
    assert name not in sys.modules
    assert not marker.exists()

    # The user's own import is the opt-in: the module then ran by their hand, not the model's.
    __import__(name)
    assert marker.exists()
    assert nbtrack.pyfunc.load_model(model).predict([[1.0], [2.0]]) == [0, 0]
    monkeypatch.delitem(sys.modules, name)

    had_this = "this" in sys.modules
    with pytest.raises(UnsafeModelError, match="'this'"):
        nbtrack.pyfunc.load_model(model_naming(tmp_path / "models" / "zen", "this:Nope"))
    assert ("this" in sys.modules) == had_this


def test_a_model_names_only_dotted_identifiers(tmp_path: Path) -> None:
    for i, bad in enumerate(["os.path:join:x", "a b:C", "../x:C", "mod:", ":C", "mod:1C"]):
        model = model_naming(tmp_path / f"m{i}", bad)
        with pytest.raises(nbtrack.models.ModelFormatError, match="not of the form"):
            nbtrack.pyfunc.load_model(model)


USER_CODE = """
import numpy as np


class Threshold:
    def __init__(self, threshold):
        self.threshold = threshold

    def predict(self, model_input):
        return np.where(np.asarray(model_input, dtype=float)[:, 0] > self.threshold, 1, 0)
"""


@pytest.mark.slow
def test_the_store_run_that_logged_a_model_is_its_trust_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: nbtrack.TrackingClient
) -> None:
    """Logged here and loaded by URI: one call. The same files from elsewhere: refused."""
    work = tmp_path / "work"
    work.mkdir()
    module = f"usercode_{uuid.uuid4().hex[:8]}"
    (work / f"{module}.py").write_text(textwrap.dedent(USER_CODE))
    monkeypatch.syspath_prepend(str(work))
    user = __import__(module)
    with nbtrack.start_run() as run:
        info = nbtrack.pyfunc.log_model(user.Threshold(5.5), "rule")
    monkeypatch.delitem(sys.modules, module)
    assert run.info.run_id == info.run_id
    tags = client.get_run(info.run_id).data.tags
    assert len(tags["nbtrack.model.rule"]) == 64
    copy = str(client.download_artifacts(info.run_id, "rule", tmp_path / "copy"))
    # a hostile folder logged as plain artifacts is not a logged model
    model_naming(tmp_path / "shipped", f"{module}:Threshold")
    client.log_artifacts(info.run_id, tmp_path / "shipped", "shipped")

    # Each process starts with nothing imported; the module is imported by the first load
    # allowed to import it (later loads would find it imported: the user's code ran).
    shipped = f"runs:/{info.run_id}/shipped"
    out = _probe(work, [copy, shipped, info.model_uri])
    assert f"'{module}' is not imported" in str(out[copy])
    assert f"'{module}' is not imported" in str(out[shipped])
    assert out[info.model_uri] == [0, 1]
    assert _probe(work, [copy], trust_code=True)[copy] == [0, 1]

    # A record that does not match the MLmodel byte for byte trusts nothing.
    client.set_tag(info.run_id, "nbtrack.model.rule", "0" * 64)
    client.flush()
    assert f"'{module}' is not imported" in str(_probe(work, [info.model_uri])[info.model_uri])


def _probe(cwd: Path, uris: list[str], trust_code: bool = False) -> dict[str, object]:
    """Load each model in a fresh process: predictions for [[5], [6]], or the refusal."""
    code = f"""
import json, nbtrack
from nbtrack.models import UnsafeModelError
out = {{}}
for uri in {uris!r}:
    try:
        model = nbtrack.pyfunc.load_model(uri, trust_code={trust_code})
        out[uri] = model.predict([[5.0], [6.0]]).tolist()
    except UnsafeModelError as exc:
        out[uri] = str(exc)
print("RESULT " + json.dumps(out))
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return _result(done.stdout)


def test_pickled_models_load_from_their_own_run_and_nowhere_else(
    tmp_path: Path, client: nbtrack.TrackingClient
) -> None:
    class Local:
        def predict(self, model_input: object) -> np.ndarray:
            return np.ones(len(model_input))  # type: ignore[arg-type]

    with nbtrack.start_run():
        info = nbtrack.pyfunc.log_model(Local(), "local", serialization="pickle")
    assert nbtrack.pyfunc.load_model(info.model_uri).predict([[1], [2]]).tolist() == [1, 1]
    copy = client.download_artifacts(info.run_id, "local", tmp_path / "copy")
    with pytest.raises(UnsafeModelError, match="allow_pickle=True"):
        nbtrack.pyfunc.load_model(copy)
    assert nbtrack.pyfunc.load_model(copy, allow_pickle=True).predict([[1]]).tolist() == [1]
    # another run's record does not vouch for these files
    with nbtrack.start_run() as other:
        client.log_artifacts(other.info.run_id, copy, "local")
        client.set_tag(
            other.info.run_id,
            "nbtrack.model.local",
            client.get_run(info.run_id).data.tags["nbtrack.model.local"],
        )
    with pytest.raises(UnsafeModelError, match="allow_pickle=True"):
        nbtrack.pyfunc.load_model(f"runs:/{other.info.run_id}/local")


def test_models_serve_refuses_and_names_its_opt_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from nbtrack.cli import main

    site = tmp_path / "site"
    site.mkdir()
    name = f"served_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "marker"
    planted_module(site, name, marker)
    monkeypatch.syspath_prepend(str(site))
    model = model_naming(tmp_path / "m", f"{name}:Model")
    result = CliRunner().invoke(main, ["models", "serve", str(model)])
    assert result.exit_code == 1
    assert f"'{name}' is not imported" in result.output
    assert "--trust-code" in result.output
    assert not marker.exists()
