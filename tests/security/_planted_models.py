"""Model directories that name code to import: planted modules that leave a marker file if run.

Every planted file is hashed into ``MLmodel`` like the model's own files, so
integrity checks pass: only the trust rule stands between the directory and
the code it names.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from nbtrack.models import _serialization as ser
from nbtrack.models._format import write_model_files

PLANTED = """
from pathlib import Path

Path({marker!r}).write_text("imported")


class Model:
    def predict(self, model_input):
        return [0] * len(model_input)
"""


def planted_module(directory: Path, name: str, marker: Path) -> Path:
    """Write ``name.py`` in ``directory``: importing it creates ``marker``."""
    file = directory / f"{name}.py"
    file.write_text(textwrap.dedent(PLANTED.format(marker=str(marker))))
    return file


def model_naming(directory: Path, class_path: str, plant: dict[str, Path] | None = None) -> Path:
    """A pyfunc model directory whose ``MLmodel`` names ``class_path``.

    ``plant`` maps module names to marker files: each module is written inside
    the model directory (and hashed with its files) before ``MLmodel``.
    """
    directory.mkdir(parents=True)
    ser.dump_skops({}, directory / "python_model.skops")
    for name, marker in (plant or {}).items():
        planted_module(directory, name, marker)
    write_model_files(
        directory,
        flavor="pyfunc",
        serialization="skops",
        flavor_conf={
            "model_file": "python_model.skops",
            "class": class_path,
            "artifacts": {},
        },
        signature=None,
        input_example=None,
        distributions=["skops"],
    )
    return directory
