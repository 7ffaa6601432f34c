"""Packaging of the JupyterLab extension: one version, listed and enabled after install.

The prebuilt labextension (package.json at the root, sources in labextension/) is built
by hatch-jupyter-builder during ``pip install`` and shipped through the wheel's
shared-data, with the server-config file that enables the server extension. These tests
read the installed state (``pip install -e .`` as CI does) and build one wheel.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import nbtrack

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_JSON = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
BUILT = ROOT / "src" / "nbtrack" / "labextension"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LAB_NAME = "jupyterlab-nbtrack"


def _jupyter(*args: str) -> str:
    """Stdout and stderr of ``jupyter ARGS`` (the list commands print to stderr), no colours."""
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return ANSI.sub("", result.stdout + result.stderr)


def _require_built() -> None:
    """Skip only where no Node toolchain could have built the extension."""
    if (BUILT / "package.json").exists():
        return
    if shutil.which("npm") is None:
        pytest.skip("labextension not built: npm is missing (install Node, then pip install -e .)")
    pytest.fail(
        "labextension not built although npm exists: run `pip install -e .` (or `npm install"
        " && npm run build`) at the repository root"
    )


def test_python_and_npm_versions_agree() -> None:
    version = PACKAGE_JSON["version"]
    assert nbtrack.__version__ == version
    assert metadata.version("nbtrack") == version
    if (BUILT / "package.json").exists():
        built = json.loads((BUILT / "package.json").read_text(encoding="utf-8"))
        assert built["name"] == LAB_NAME
        assert built["version"] == version


def test_labextension_paths_point_at_the_build() -> None:
    assert PACKAGE_JSON["name"] == LAB_NAME
    assert nbtrack._jupyter_labextension_paths() == [{"src": "labextension", "dest": LAB_NAME}]
    assert PACKAGE_JSON["jupyterlab"]["outputDir"] == "src/nbtrack/labextension"


def test_labextension_listed_enabled() -> None:
    pytest.importorskip("jupyterlab", reason="jupyter labextension needs jupyterlab")
    _require_built()
    listing = _jupyter("labextension", "list")
    version = PACKAGE_JSON["version"]
    assert re.search(
        rf"{LAB_NAME} v{re.escape(version)} enabled OK \(python, nbtrack\)", listing
    ), listing


def test_server_extension_enabled() -> None:
    listing = _jupyter("server", "extension", "list")
    assert re.search(r"^\s*nbtrack enabled", listing, re.MULTILINE), listing
    # Validation imports nbtrack.server: its load must succeed.
    assert re.search(rf"nbtrack {re.escape(nbtrack.__version__)} OK", listing), listing


@pytest.mark.slow
def test_wheel_ships_extension_and_server_config(tmp_path: Path) -> None:
    _require_built()  # skip-if-exists: the wheel reuses the build instead of running npm
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = tmp_path.glob("nbtrack-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = f"nbtrack-{PACKAGE_JSON['version']}.data/data/"
    share = f"{data}share/jupyter/labextensions/{LAB_NAME}/"
    assert f"{share}package.json" in names
    assert f"{share}install.json" in names
    # The settings schema (showSystemUsage), from package.json's jupyterlab.schemaDir.
    assert f"{share}schemas/{LAB_NAME}/plugin.json" in names
    assert any(n.startswith(f"{share}static/remoteEntry.") for n in names)
    assert f"{data}etc/jupyter/jupyter_server_config.d/nbtrack.json" in names
    assert "nbtrack/_version.py" in names
    # Sources, node_modules and a second copy of the build stay out of the wheel.
    assert not [n for n in names if "node_modules" in n or n.endswith(".ts")]
    assert not [n for n in names if n.startswith("nbtrack/labextension/")]


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def _names(requirements: list[str]) -> set[str]:
    names = (re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0] for r in requirements)
    return {name.lower().replace("_", "-") for name in names}


def test_panels_and_server_are_core_dependencies_jupyterlab_is_an_extra() -> None:
    project = _pyproject()["project"]
    core = _names(project["dependencies"])
    # `pip install nbtrack` gives the notebook panels and the server extension.
    assert {"ipywidgets", "altair", "jupyter-server"} <= core
    assert "jupyterlab" not in core
    assert "vl-convert-python" not in core
    extras = project["optional-dependencies"]
    assert _names(extras["lab"]) == {"jupyterlab"}
    assert _names(extras["png"]) == {"vl-convert-python"}


# Cloud filesystems with no local server to test against: nbtrack reaches them through the
# same fsspec code path the S3 tests run on moto's server, so the test extra skips their SDKs.
_CLOUD_ONLY_EXTRAS = {"gcs", "azure"}


def test_the_test_extra_covers_every_other_extra() -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    test = _names(extras["test"])
    for name, requirements in extras.items():
        if name in {"test", "bench"}:  # bench compares with papermill, not run by the tests
            continue
        if name in _CLOUD_ONLY_EXTRAS:
            continue
        missing = _names(requirements) - test
        assert not missing, f"extra {name!r}: {sorted(missing)} missing from the test extra"


def test_every_extra_named_in_an_error_exists() -> None:
    extras = set(_pyproject()["project"]["optional-dependencies"])
    named: dict[str, set[str]] = {}
    for file in (ROOT / "src" / "nbtrack").rglob("*.py"):
        text = file.read_text(encoding="utf-8")
        for groups in re.findall(r"nbtrack\[(\w+)\]|extra=\"(\w+)\"", text):
            named.setdefault("".join(groups), set()).add(file.name)
    assert named  # the errors name extras
    unknown = {k: v for k, v in named.items() if k not in extras}
    assert not unknown, f"errors name extras pyproject.toml does not define: {unknown}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for extra in ("lab", "models", "dask", "png"):
        assert f"nbtrack[{extra}]" in readme, f"README.md does not mention nbtrack[{extra}]"
