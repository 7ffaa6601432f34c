"""The registry and models hold no SQL, and models never imports the registry.

Read from the source with :mod:`ast` (every import, in functions and under
``TYPE_CHECKING`` too), so the rule holds for imports made on first use.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

import nbtrack
from nbtrack.exceptions import NbtrackError

PACKAGE = Path(nbtrack.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: frozenset[str] = frozenset()) -> set[str]:
    """Every module ``path`` imports; ``from x import y`` is ``x.y`` when that is a module.

    (As import-linter counts it: ``from nbtrack import fluent`` imports
    ``nbtrack.fluent``, not everything ``nbtrack/__init__.py`` imports.)
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in modules else base)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    names = frozenset(modules)
    return {name: _imports(path, names) & names for name, path in modules.items()}


def test_models_never_import_the_registry_even_indirectly() -> None:
    graph = _graph()
    start = [m for m in graph if m == "nbtrack.models" or m.startswith("nbtrack.models.")]
    came_from: dict[str, str | None] = dict.fromkeys(start)
    queue = deque(start)
    while queue:
        module = queue.popleft()
        for imported in graph[module]:
            if imported not in came_from:
                came_from[imported] = module
                queue.append(imported)
    reached = sorted(m for m in came_from if m.startswith("nbtrack.registry"))
    chains = []
    for target in reached:
        chain, step = [target], came_from[target]
        while step is not None:
            chain.append(step)
            step = came_from[step]
        chains.append(" <- ".join(chain))
    assert not chains, "nbtrack.models reaches nbtrack.registry:\n" + "\n".join(chains)


def test_registry_and_models_hold_no_sql() -> None:
    names = frozenset(_module_name(p) for p in PACKAGE.rglob("*.py"))
    offenders = []
    for package in ("registry", "models"):
        for path in sorted((PACKAGE / package).rglob("*.py")):
            for module in _imports(path, names):
                private_store = module.startswith("nbtrack.store.") and any(
                    part.startswith("_") for part in module.split(".")[2:]
                )
                if module.split(".")[0] == "sqlalchemy" or private_store:
                    offenders.append(f"{_module_name(path)} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_the_checks_see_imports_made_in_functions() -> None:
    # the rule would pass vacuously if the scan missed lazy imports: the registry's
    # client imports the store's registry API inside its methods
    graph = _graph()
    assert "nbtrack.store.registry" in graph["nbtrack.registry._client"]
    assert "nbtrack.models._registry_hooks" in graph["nbtrack.models._api"]
    # and see private store modules named in ``from nbtrack.store import _x``
    assert "nbtrack.store._dialect" in graph["nbtrack.store.registry._versions"]


def test_importing_any_models_module_installs_the_registry_hooks() -> None:
    # models never imports the registry, yet importing a models module runs
    # nbtrack/__init__.py first, which imports nbtrack.registry: the hooks are set.
    code = (
        "import nbtrack.models._uris as uris, sys\n"
        "from nbtrack.models import _registry_hooks as hooks\n"
        "assert hooks._installed is not None\n"
        "assert 'sqlalchemy' not in sys.modules and 'nbtrack.models._api' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_without_the_registry_models_uris_say_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nbtrack.models import _registry_hooks

    monkeypatch.setattr(_registry_hooks, "_installed", None)
    with pytest.raises(NbtrackError, match=r"import nbtrack\.registry"):
        nbtrack.pyfunc.load_model("models:/iris/1")
