"""Writes the small notebooks that ``tests/test_notebook_e2e.py`` runs in real kernels.

Run ``python tests/notebooks/make_notebooks.py`` after editing :data:`NOTEBOOKS`;
a test checks that the committed ``.ipynb`` files match this script. Cell ids
are fixed (``c0``, ``c1``, ...) so the output is byte-stable.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import v4

HERE = Path(__file__).parent

#: Notebook name -> cell sources. Tests execute cells by index, some of them twice.
NOTEBOOKS: dict[str, list[str]] = {
    # Cell 1 is run twice: the second `%track start` ends the first run.
    "rerun_start": [
        "%load_ext nbtrack",
        "%track start exp1",
        'import nbtrack\n\nnbtrack.log_metric("acc", 0.5)',
        'nbtrack.log_metric("acc", 0.9)\nnbtrack.log_metric("loss", 0.1)',
        "%track end",
    ],
    "failing_cell": [
        "%load_ext nbtrack",
        "%track start failing",
        "import nbtrack\n\nx = 1",
        'raise ValueError("bad value")',
        'nbtrack.log_metric("after", 1.0)',
        "%track end",
    ],
    # Cell 2 is run again with a new value of lr.
    "params_rerun": [
        "%load_ext nbtrack",
        "%track start sweep",
        "%%track params\nlr = 0.1\nepochs = 3",
        "%track end",
    ],
    # Cell 3 is run three times; cell 4 changes nothing; cell 6 changes loss unwatched.
    "watch": [
        "%load_ext nbtrack",
        "%track start watched",
        "loss = 1.0\n%track watch loss",
        "loss = loss / 2",
        "other = 0",
        "%track unwatch",
        "loss = -1.0",
        "%track end",
    ],
    # The kernel is restarted (then shut down) while a run is active.
    "shutdown": [
        "%load_ext nbtrack",
        "%track start bye",
        'import nbtrack\n\nnbtrack.log_param("p", 1)\nnbtrack.log_metric("m", 2.0)',
    ],
    # Cell 2 logs until the kernel is SIGKILLed; it reports flushed points in a side file.
    "sigkill": [
        "%load_ext nbtrack",
        "%track start doomed",
        "import os\n"
        "import time\n"
        "from pathlib import Path\n"
        "\n"
        "import nbtrack\n"
        "\n"
        'Path("kernel.pid").write_text(str(os.getpid()))\n'
        "step = 0\n"
        "while True:\n"
        '    nbtrack.log_metric("m", float(step), step=step)\n'
        "    step += 1\n"
        "    if step % 25 == 0:\n"
        "        nbtrack.flush()\n"
        '        Path("flushed.tmp").write_text(str(step))\n'
        '        Path("flushed.tmp").replace("flushed")\n'
        "        time.sleep(0.005)",
    ],
    # Cells 3 and 2 run out of file order before the snapshot.
    "snapshot": [
        "%load_ext nbtrack",
        "%track start snap",
        "x = 1",
        "y = 2",
        "%track snapshot",
        "%track end",
    ],
    "light_load": [
        "import sys\n"
        "\n"
        'HEAVY = ("pandas", "altair", "ipywidgets")\n'
        "print(sorted(m for m in HEAVY if m in sys.modules))",
        "%load_ext nbtrack\nprint(sorted(m for m in HEAVY if m in sys.modules))",
        "%track start light\nprint(sorted(m for m in HEAVY if m in sys.modules))",
        "%track end\nprint(sorted(m for m in HEAVY if m in sys.modules))",
    ],
}


def build(sources: list[str]) -> nbformat.NotebookNode:
    """A v4.5 notebook of code cells with ids c0, c1, ... and no outputs."""
    notebook = v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        }
    )
    notebook.cells = [v4.new_code_cell(source, id=f"c{i}") for i, source in enumerate(sources)]
    nbformat.validate(notebook)
    return notebook


def render(name: str) -> str:
    """The file content of notebook ``name``."""
    text: str = nbformat.writes(build(NOTEBOOKS[name]))
    return text


def main() -> None:
    for name in NOTEBOOKS:
        (HERE / f"{name}.ipynb").write_text(render(name), encoding="utf-8")


if __name__ == "__main__":
    main()
