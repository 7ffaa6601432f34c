"""``infer_code_paths=True``: find the working directory's Python files a model needs.

MLflow's rule, kept: only modules whose files lie under the current working
directory are inferable, and only the files needed (a module's ``.py``, and the
``__init__.py`` of each package above it), not whole folders, so nothing else in
the project (credentials, data, notebooks) lands in the model.

What a model needs is read from the model itself, without running anything:
the modules its pickle names (cloudpickle pickles a class defined in the
notebook by value, and the functions and classes it uses from the user's own
modules by reference: those references are what loading imports), its class's
module, and, transitively, the working-directory modules those modules refer to
at their top level (imported modules, imported functions and classes). A module
imported only inside a function body at predict time is not seen; name it in
``code_paths`` instead.
"""

from __future__ import annotations

import pickle
import pickletools
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from nbtrack.exceptions import InvalidInputError


def inferred_code_files(model: Any, root: Path | None = None) -> list[Path]:
    """The files under ``root`` (the working directory) that loading ``model`` imports.

    Paths are relative to ``root``, sorted; copy each to ``code/<path>``.
    """
    root = (root or Path.cwd()).resolve()
    seen: set[str] = set()
    files: set[Path] = set()
    pending = sorted(_modules_named_by(model))
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        module = sys.modules.get(name)
        local = _local_files(name, root)
        if module is None or not local:
            continue
        files.update(local)
        pending.extend(m for m in _modules_referenced_by(module) if m not in seen)
    return sorted(files)


def _modules_named_by(model: Any) -> set[str]:
    """Module names in the model's pickle, and the module of its class."""
    names = {type(model).__module__}
    try:
        import cloudpickle  # type: ignore[import-untyped]

        data = cloudpickle.dumps(model)
    except ImportError:
        data = pickle.dumps(model)
    except Exception as exc:
        raise InvalidInputError(
            f"infer_code_paths could not read the model's references ({type(exc).__name__}: "
            f"{exc}); pass code_paths= with the files it needs instead"
        ) from exc
    names.update(_pickle_strings(data))
    return {n for n in names if n in sys.modules}


def _pickle_strings(data: bytes) -> Iterator[str]:
    """Every string a pickle holds: the module names of its globals are among them.

    ``GLOBAL`` carries "module name"; ``STACK_GLOBAL`` (protocol 4+) takes the
    two strings pushed before it; cloudpickle's module references are strings
    passed to its ``subimport``. Collecting all strings covers the three; a
    string that merely equals a module name only adds that module's own file.
    """
    for opcode, arg, _pos in pickletools.genops(data):
        if opcode.name == "GLOBAL" and isinstance(arg, str):
            yield arg.split(" ", 1)[0]
        elif isinstance(arg, str):
            yield arg


def _modules_referenced_by(module: ModuleType) -> Iterator[str]:
    """The modules a module's top-level names come from (``import x``, ``from x import f``)."""
    for value in list(vars(module).values()):
        if isinstance(value, ModuleType):
            yield value.__name__
        else:
            owner = getattr(value, "__module__", None)
            if isinstance(owner, str):
                yield owner


def _local_files(name: str, root: Path) -> list[Path]:
    """The files of ``name`` and of the packages above it that lie under ``root``.

    A file counts only if it is the one the imported module was loaded from, so
    a working-directory file that shares its name with an installed module is
    not taken.
    """
    if name == "__main__" or name.startswith("__main__."):
        return []  # the notebook or script itself: pickled by value, not imported
    parts = name.split(".")
    found: list[Path] = []
    for depth in range(1, len(parts) + 1):
        prefix = Path(*parts[:depth])
        module_name = ".".join(parts[:depth])
        for candidate in (root / prefix / "__init__.py", root / prefix.with_suffix(".py")):
            if candidate.is_file() and _is_the_module(module_name, candidate):
                found.append(candidate.relative_to(root))
    return found


def _is_the_module(name: str, file: Path) -> bool:
    """Whether the imported module ``name`` was loaded from ``file`` (not a namesake)."""
    module = sys.modules.get(name)
    origin = getattr(module, "__file__", None)
    if origin is None:
        return False
    try:
        return Path(origin).resolve() == file.resolve()
    except OSError:
        return False
