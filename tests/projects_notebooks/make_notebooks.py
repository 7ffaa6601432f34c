"""Writes the tiny notebooks that ``tests/test_projects_*.py`` run headless.

Run ``python tests/projects_notebooks/make_notebooks.py`` after editing
:data:`NOTEBOOKS`; a test checks that the committed ``.ipynb`` files match.
A cell given as ``("parameters", source)`` is tagged ``parameters``. Cell ids
are fixed (``c0``, ``c1``, ...) so the output is byte-stable.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import v4

HERE = Path(__file__).parent

Cell = str | tuple[str, str]

NOTEBOOKS: dict[str, list[Cell]] = {
    # Every literal type; %track start joins the runner's run; prints the types it got.
    "typed": [
        "%load_ext nbtrack",
        (
            "parameters",
            'lr = 0.01\nepochs = 3\nuse_bias = False\noptimizer = "sgd"\nseed = None\n'
            'layers = [8, 8]\nextra = {"a": 1}',
        ),
        "%track start",
        "import json\n\nimport nbtrack\n\nvalues = {\n"
        + "".join(
            f'    "{name}": {name},\n'
            for name in ("lr", "epochs", "use_bias", "optimizer", "seed", "layers", "extra")
        )
        + "}\nprint(json.dumps({k: [type(v).__name__, v] for k, v in values.items()}))\n"
        "for step in range(epochs):\n"
        '    nbtrack.log_metric("loss", lr * (epochs - step), step=step)',
        "%track tag source=magic\n%track end",
    ],
    # The parameters cell is a `%%track params` cell: the kernel logs the injected values.
    "track_params": [
        "%load_ext nbtrack",
        ("parameters", "%%track params\nlr = 0.01\nepochs = 2"),
        'import nbtrack\n\nnbtrack.log_metric("product", lr * epochs)  # noqa: F821',
    ],
    # No cell is tagged `parameters`: injected values go at the top.
    "untagged": [
        'import nbtrack\n\nnbtrack.log_metric("alpha", alpha)  # noqa: F821 (injected)',
    ],
    "failing": [
        'import nbtrack\n\nnbtrack.log_metric("before", 1.0)',
        'def check(value):\n    raise ValueError(f"bad input {value}")\n\n\ncheck(42)',
        'nbtrack.log_metric("after", 1.0)',
    ],
    # Logs, flushes, then sleeps: the test interrupts it.
    "sleepy": [
        'import time\n\nimport nbtrack\n\nnbtrack.log_metric("started", 1.0)\nnbtrack.flush()',
        "time.sleep(120)",
        'nbtrack.log_metric("finished", 1.0)',
    ],
    # A sweep's children log, flush, then sleep: the test interrupts the sweep.
    "sleepy_sweep": [
        ("parameters", "x = 1"),
        'import time\n\nimport nbtrack\n\nnbtrack.log_metric("x", x)\nnbtrack.flush()',
        "time.sleep(120)",
    ],
    "deterministic": [
        ("parameters", "seed = 0\nn = 200"),
        "import random\n\nimport nbtrack\n\nrng = random.Random(seed)\n"
        "values = [rng.random() for _ in range(n)]\n"
        'nbtrack.log_metric("mean", sum(values) / n)\nnbtrack.log_metric("top", max(values))',
    ],
    "nondeterministic": [
        ("parameters", "n = 10"),
        "import random\n\nimport nbtrack\n\n"
        'nbtrack.log_metric("noise", sum(random.random() for _ in range(n)))\n'
        'nbtrack.log_metric("constant", float(n))',
    ],
    # Run interactively with cell 2 executed twice (hidden state: x is 100, not 10).
    "out_of_order": [
        "%load_ext nbtrack\n%track start ooo",
        "x = 1",
        "x = x * 10",
        'import nbtrack\n\nnbtrack.log_metric("x", x)',
        "%track end",
    ],
    # A child fails when a file fail-<batch> exists in the notebook's directory.
    "sweepable": [
        ("parameters", "lr = 0.1\nbatch = 32"),
        "from pathlib import Path\n\nimport nbtrack\n\n"
        'if Path(f"fail-{batch}").exists():\n'
        '    raise RuntimeError(f"batch {batch} is marked to fail")\n'
        'nbtrack.log_metric("loss", lr * batch)',
    ],
}


def build(cells: list[Cell]) -> nbformat.NotebookNode:
    """A notebook of code cells with fixed ids."""
    notebook = v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for index, cell in enumerate(cells):
        tags, source = ([cell[0]], cell[1]) if isinstance(cell, tuple) else ([], cell)
        new = v4.new_code_cell(source, metadata={"tags": tags} if tags else {})
        new["id"] = f"c{index}"
        notebook.cells.append(new)
    return notebook


def render(name: str) -> str:
    """The file content of notebook ``name``."""
    return nbformat.writes(build(NOTEBOOKS[name]))


def main() -> None:
    """Write every notebook next to this script."""
    for name in NOTEBOOKS:
        (HERE / f"{name}.ipynb").write_text(render(name), encoding="utf-8")


if __name__ == "__main__":
    main()
