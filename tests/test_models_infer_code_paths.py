"""``pyfunc.log_model(infer_code_paths=True)``: the project's own modules ship with the model.

A real project in a temporary directory: a training script defines its
``PythonModel`` in ``__main__`` (as a notebook does) and uses functions from its
own modules; it logs the model with ``infer_code_paths=True``. A fresh process
in another directory, where those modules are not importable, loads the model
from the store's run and predicts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nbtrack
from nbtrack.exceptions import InvalidInputError

PROJECT_FILES = {
    "features/__init__.py": "",
    "features/scaling.py": (
        "FACTOR = 3\n\ndef scale(values):\n    return [v * FACTOR for v in values]\n"
    ),
    "labels.py": (
        "from features.scaling import scale\n\n"
        "NAMES = ['low', 'mid', 'high']\n\n"
        "def label(values):\n    return [NAMES[min(v // 10, 2)] for v in scale(values)]\n"
    ),
    "unused_helper.py": "def nothing():\n    return None\n",
    "credentials.txt": "not for the model\n",
}

TRAIN = textwrap.dedent(
    """
    import sys

    import nbtrack
    import unused_helper  # imported by the script, not used by the model
    from labels import label

    class Labeller(nbtrack.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return label(model_input)

    with nbtrack.start_run() as run:
        info = nbtrack.pyfunc.log_model(
            name="labeller", python_model=Labeller(), infer_code_paths=True
        )
    print(info.model_uri)
    """
)

LOAD = textwrap.dedent(
    """
    import sys

    import nbtrack

    model = nbtrack.pyfunc.load_model(sys.argv[1])
    print(model.predict([1, 4, 9]))
    print(sys.modules["labels"].__file__)
    """
)


def _python(code: str, cwd: Path, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBTRACK_", "MLFLOW_"))}
    env["NBTRACK_TRACKING_URI"] = str(store)
    env["PYTHONPATH"] = str(Path(nbtrack.__file__).parents[1])
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_inferred_code_ships_only_the_needed_files_and_loads_elsewhere(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for relative, text in PROJECT_FILES.items():
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_text(text)
    store = tmp_path / "store"
    logged = _python(TRAIN, project, store)
    assert logged.returncode == 0, logged.stderr[-3000:]
    model_uri = logged.stdout.strip().splitlines()[-1]

    client = nbtrack.TrackingClient(store)
    run_id = model_uri.split("/")[1]
    shipped = sorted(f.path for f in _walk(client, run_id, "labeller/code") if not f.is_dir)
    assert shipped == [
        "labeller/code/features/__init__.py",
        "labeller/code/features/scaling.py",
        "labeller/code/labels.py",
    ]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    loaded = _python(LOAD, elsewhere, store, model_uri)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    prediction, labels_file = loaded.stdout.strip().splitlines()[-2:]
    assert prediction == "['low', 'mid', 'high']"
    assert labels_file.endswith("code/labels.py")
    assert str(project) not in labels_file


def _walk(client: nbtrack.TrackingClient, run_id: str, path: str) -> list:  # type: ignore[type-arg]
    found = []
    for info in client.list_artifacts(run_id, path):
        found.append(info)
        if info.is_dir:
            found.extend(_walk(client, run_id, info.path))
    return found


def test_infer_code_paths_and_code_paths_together_are_refused(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    helper = tmp_path / "helper.py"
    helper.write_text("X = 1\n")
    with pytest.raises(InvalidInputError, match="not both"), nbtrack.start_run():
        nbtrack.pyfunc.log_model(
            name="m",
            python_model=nbtrack.pyfunc.PythonModel(),
            code_paths=[str(helper)],
            infer_code_paths=True,
        )


def test_a_working_directory_namesake_of_an_installed_module_is_not_shipped(
    client: nbtrack.TrackingClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``json.py`` in the working directory is not the ``json`` the model uses."""
    import json

    (tmp_path / "json.py").write_text("raise SystemExit('never imported')\n")
    monkeypatch.chdir(tmp_path)

    class Dumps(nbtrack.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return [json.dumps(v) for v in model_input]

    with nbtrack.start_run():
        info = nbtrack.pyfunc.log_model(name="dumps", python_model=Dumps(), infer_code_paths=True)
    assert [f.path for f in client.list_artifacts(info.run_id, "dumps")].count("dumps/code") == 0
    assert nbtrack.pyfunc.load_model(info.model_uri).predict([1]) == ["1"]
