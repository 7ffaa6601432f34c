"""The layering of shared/design.md holds: import-linter's contracts in pyproject.toml.

``lint-imports`` reads every import of the package, at module top, inside
functions and under ``TYPE_CHECKING``; an upward import, SQL outside the store,
IPython below the notebook layer or an import circle between sibling modules
fails the suite. A copy of the package with such imports added shows that the
contracts catch them.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "src" / "nbtrack"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package under ``root/src`` with ``root/pyproject.toml``."""
    beside = Path(sys.executable).parent / "lint-imports"
    command = str(beside) if beside.exists() else shutil.which("lint-imports")
    assert command, "lint-imports not found: pip install -e '.[test]' (import-linter)"
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [command, "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_import_contracts_hold() -> None:
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_contracts_catch_upward_imports_sql_ipython_and_circles(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    copy = tmp_path / "src" / "nbtrack"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("labextension", "__pycache__"))
    added = {
        # the store reaching up into the panels (inside a function: still an import)
        "store/_names.py": "def _up() -> None:\n    from nbtrack import ui  # noqa\n",
        "ui/_html.py": "import sqlalchemy  # noqa\n",  # SQL outside the store
        "client.py": "import IPython  # noqa\n",  # IPython below the notebook layer
        "notebook/_notebook_json.py": "from nbtrack.notebook import _snapshot  # noqa\n",
        "notebook/_params_cell.py": "import altair  # noqa\n",  # the ui's, not the notebook's
    }
    for name, line in added.items():
        path = copy / name
        path.write_text(path.read_text(encoding="utf-8") + "\n" + line, encoding="utf-8")
    done = _lint_imports(tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    for contract in (
        "Layers: each imports only the layers below it BROKEN",
        "Only the store imports SQLAlchemy and Alembic BROKEN",
        "Nothing below the notebook layer imports IPython or widgets BROKEN",
        "The notebook layer imports no widgets or Altair (they are the ui's) BROKEN",
        "No import circles between sibling modules BROKEN",
    ):
        assert contract in out, out
    assert "nbtrack.store is not allowed to import nbtrack.ui" in out, out


def _contract(name: str) -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"] == name)


def _top_level_modules() -> set[str]:
    found = {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    found |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    return {f"nbtrack.{name}" for name in found} - {"nbtrack._version"}  # generated


def test_the_sql_contract_names_every_module_but_the_store() -> None:
    # a forbidden contract checks the modules it lists: a new one must be listed too
    listed = set(_contract("Only the store imports SQLAlchemy and Alembic")["source_modules"])  # type: ignore[call-overload]
    assert listed == _top_level_modules() - {"nbtrack.store"}
    # and the package root, which no contract can name without its descendants
    root_source = (PACKAGE / "__init__.py").read_text(encoding="utf-8")
    assert "sqlalchemy" not in root_source
    assert "alembic" not in root_source


def test_loading_the_extension_imports_no_panels() -> None:
    # the ui's %track sub-commands are imported on first use (notebook/_subcommands.py)
    code = (
        "import sys\n"
        "from IPython.testing.globalipapp import start_ipython\n"
        "ip = start_ipython()\n"
        "ip.run_line_magic('load_ext', 'nbtrack')\n"
        "loaded = [m for m in ('nbtrack.ui', 'ipywidgets', 'altair') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _store_reach_ins(package: Path) -> list[str]:
    """``file:line: expression`` of each use of a client's store outside store/ and client.py."""
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        # client.py and _logged_model_client.py (a mixin of TrackingClient) are the client.
        if rel.startswith("store/") or rel in ("client.py", "_logged_model_client.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            reach = isinstance(node, ast.Attribute) and (
                node.attr == "_store"
                or (node.attr == "store" and "client" in ast.unparse(node.value).lower())
            )
            if reach:
                found.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_only_the_store_and_the_client_touch_the_clients_store() -> None:
    # TrackingClient._store is private: callers use the client's public methods
    # (queries, imports, blobs_holding, begin_cell, ...), never the store object
    offenders = _store_reach_ins(PACKAGE)
    assert not offenders, "\n".join(offenders)


def test_the_store_scan_sees_a_reach_in(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "_api.py").write_text("def f(client):\n    client._store.flush()\n")
    (tmp_path / "ui.py").write_text("def g(run):\n    return run.client.store.engine\n")
    (tmp_path / "client.py").write_text("def h(self):\n    return self._store\n")  # its own
    assert _store_reach_ins(tmp_path) == [
        "models/_api.py:2: client._store",
        "ui.py:2: run.client.store",
    ]
