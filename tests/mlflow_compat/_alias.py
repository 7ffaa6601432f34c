"""``import mlflow`` resolving to nbtrack: every ``mlflow.X`` module is ``nbtrack.X``.

Installed only in the subprocesses that run MLflow's own tests and example
scripts against nbtrack (see ``_plugin.py`` and ``test_examples.py``), never
in the main test process, which also runs tests against the real MLflow.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

PREFIX = "mlflow"


class _MlflowAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers ``mlflow`` and ``mlflow.*`` with the nbtrack module of the same path."""

    def find_spec(
        self,
        fullname: str,
        path: object = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != PREFIX and not fullname.startswith(PREFIX + "."):
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        target = importlib.import_module("nbtrack" + spec.name[len(PREFIX) :])
        self._specs[spec.name] = target.__spec__
        return target

    def exec_module(self, module: ModuleType) -> None:
        # The import system stamped the mlflow spec on the nbtrack module; put its own back.
        module.__spec__ = self._specs.get(module.__spec__.name if module.__spec__ else "")

    _specs: dict[str, importlib.machinery.ModuleSpec | None] = {}  # noqa: RUF012


def install() -> None:
    """Make ``import mlflow`` (and its submodules) import nbtrack in this process."""
    if any(isinstance(f, _MlflowAlias) for f in sys.meta_path):
        return
    for name in [n for n in sys.modules if n == PREFIX or n.startswith(PREFIX + ".")]:
        del sys.modules[name]  # a real MLflow imported earlier must not shadow the alias
    sys.meta_path.insert(0, _MlflowAlias())
