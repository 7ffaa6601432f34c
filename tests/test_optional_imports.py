"""Every use of an optional dependency fails, when it is missing, with the extra to install.

A subprocess hides one package at a time behind a ``sys.meta_path`` finder (a
real ImportError, as on an install without the extra) and calls the nbtrack
feature that needs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# (package hidden, code that needs it, the install command the error must name).
# sklearn's case comes first: later cases import sklearn, which cannot be hidden again.
CASES = [
    (
        "sklearn",
        "import nbtrack.sklearn\nnbtrack.sklearn.save_model(object(), tmp / 'sk')",
        'pip install "nbtrack[models]"',
    ),
    (
        "skops",
        "import nbtrack.sklearn\nfrom sklearn.linear_model import LinearRegression\n"
        "nbtrack.sklearn.save_model(LinearRegression().fit([[0], [1]], [0, 1]), tmp / 'skops')",
        'pip install "nbtrack[models]"',
    ),
    (
        "safetensors",
        "import torch\nimport nbtrack.pytorch\n"
        "nbtrack.pytorch.save_model(torch.nn.Linear(2, 1), tmp / 'torch')",
        'pip install "nbtrack[models]"',
    ),
    (
        "starlette",
        "from nbtrack.models.serving import build_app\nbuild_app(None)",
        'pip install "nbtrack[models]"',
    ),
    (
        "uvicorn",
        "from click.testing import CliRunner\nfrom nbtrack.cli import main\n"
        "result = CliRunner().invoke(main, ['models', 'serve', str(tmp / 'no-model')])\n"
        "raise RuntimeError(result.output)",
        'pip install "nbtrack[models]"',
    ),
    (
        "dask",
        "from nbtrack.projects._executors import ChildJob, run_jobs\n"
        "run_jobs([ChildJob(0, 'x.ipynb', {}, '0', 'p', str(tmp))], executor='dask')",
        "pip install 'nbtrack[dask]'",
    ),
    (
        "vl_convert",
        "from nbtrack.ui._display import png_bytes\npng_bytes({})",
        "pip install 'nbtrack[png]'",
    ),
]

_DRIVER = textwrap.dedent(
    """
    import importlib.abc, json, pathlib, sys, tempfile

    hidden = set()

    class Hide(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in hidden:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Hide())
    tmp = pathlib.Path(tempfile.mkdtemp())
    results = {}
    for package, code, _ in json.loads(sys.argv[1]):
        assert package not in sys.modules, f"{package} was imported before its case"
        hidden = {package}
        try:
            exec(code, {"tmp": tmp})
            results[package] = "no error"
        except Exception as exc:
            results[package] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(results))
    """
)


@pytest.mark.slow
def test_each_optional_import_names_its_extra() -> None:
    pytest.importorskip("torch")  # the safetensors case saves a torch module
    result = subprocess.run(
        [sys.executable, "-c", _DRIVER, json.dumps(CASES)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    for package, _, install in CASES:
        outcome = outcomes[package]
        assert install in outcome, f"hiding {package}: {outcome}"
        assert "Traceback" not in outcome


def test_the_panels_import_without_optional_extras() -> None:
    # ipywidgets and Altair are core dependencies; vl-convert is optional.
    code = textwrap.dedent(
        """
        import importlib.abc, sys

        class Hide(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"vl_convert", "jupyterlab"}:
                    raise ModuleNotFoundError(name, name=name)
                return None

        sys.meta_path.insert(0, Hide())
        import nbtrack.ui, nbtrack.server
        from nbtrack.ui._display import has_vl_convert
        assert not has_vl_convert()
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"
