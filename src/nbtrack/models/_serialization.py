"""How objects become files and back: skops (safe, the default), pickle (opt-in), classes.

* skops stores an object as a description of its parts; loading rebuilds only
  types skops trusts (scikit-learn, numpy, scipy, ...) plus those the caller
  names in ``trusted_types``. Anything else is refused before it is built.
* pickle (via cloudpickle when installed) can run any code while loading, so
  it is written only when asked for (``serialization="pickle"``) and read only
  with ``allow_pickle=True``.
* Classes (a ``PythonModel``, a torch module) are recorded by import path and
  imported at load time only as :mod:`nbtrack.models._trust` allows.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrack._optional import require
from nbtrack.exceptions import InvalidInputError
from nbtrack.models._errors import UnsafeModelError

log = logging.getLogger(__name__)

PICKLE_FORMATS = ("pickle", "cloudpickle")
#: ``NBTRACK_ALLOW_PICKLE=1`` allows pickled models where no argument can be passed
#: (``mlflow.pyfunc.load_model``, ``mlflow models serve``).
ENV_ALLOW_PICKLE = "NBTRACK_ALLOW_PICKLE"
#: ``NBTRACK_TRUST_CODE=1`` lets such loads import the classes a model names.
ENV_TRUST_CODE = "NBTRACK_TRUST_CODE"
_TRUE = ("1", "true", "yes")


@dataclass(frozen=True)
class LoadOptions:
    """What a load may run: the caller's opt-ins and the store's recorded trust.

    ``recorded``: the model was loaded from the run of this store that logged
    it, and its ``MLmodel`` is byte for byte the one that run recorded
    (:func:`nbtrack.models._trust.recorded`).
    """

    allow_pickle: bool = False
    trusted_types: tuple[str, ...] = ()
    trust_code: bool = False
    recorded: bool = False
    model_config: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, allow_pickle: bool, trusted_types: Iterable[str] | None, trust_code: bool = False
    ) -> LoadOptions:
        """Options from ``load_model`` arguments (a lone string is one type name)."""
        if isinstance(trusted_types, str):
            trusted_types = [trusted_types]
        return cls(bool(allow_pickle), tuple(trusted_types or ()), bool(trust_code))

    @classmethod
    def from_environment(cls) -> LoadOptions:
        """Options for loads that take no arguments, from the ``NBTRACK_*`` environment."""
        return cls(
            allow_pickle=os.environ.get(ENV_ALLOW_PICKLE, "") in _TRUE,
            trust_code=os.environ.get(ENV_TRUST_CODE, "") in _TRUE,
        )

    @property
    def may_import(self) -> bool:
        """Whether classes the model names may be imported (running their modules' code)."""
        return self.recorded or self.trust_code or self.allow_pickle

    @property
    def explicit(self) -> bool:
        """Whether the caller opted in to running the model's code, wherever it lives."""
        return self.trust_code or self.allow_pickle


def check_serialization(serialization: str, allowed: tuple[str, ...]) -> str:
    """The serialization name, or a clear error listing the allowed ones."""
    if serialization not in allowed:
        raise InvalidInputError(
            f"serialization={serialization!r} is not supported here; use one of "
            f"{', '.join(repr(a) for a in allowed)}"
        )
    return serialization


# -- pickle ----------------------------------------------------------------------------


def dump_pickle(obj: Any, file: Path) -> str:
    """Pickle ``obj`` (cloudpickle when installed, so notebook classes work); returns the tool."""
    try:
        import cloudpickle  # type: ignore[import-untyped]
    except ImportError:
        log.debug("cloudpickle is not installed; using the standard pickle module")
        with file.open("wb") as out:
            pickle.dump(obj, out)
        return "pickle"
    with file.open("wb") as out:
        cloudpickle.dump(obj, out)
    return "cloudpickle"


def load_pickle(file: Path, options: LoadOptions) -> Any:
    """Unpickle a model file, only when the caller allowed it or the store recorded it."""
    if not (options.allow_pickle or options.recorded):
        raise UnsafeModelError(
            f"{file.parent} was saved with serialization='pickle'. Unpickling runs whatever "
            "code the file contains, so nbtrack refuses it unless the model is loaded by "
            "runs:/ or models:/ URI from the store whose run logged it. If you trust where "
            "this model came from, load it with allow_pickle=True (nbtrack models serve "
            f"--allow-pickle; for MLflow's loaders set {ENV_ALLOW_PICKLE}=1)"
        )
    with file.open("rb") as stream:
        return pickle.load(stream)  # noqa: S301 (explicitly allowed by the caller)


# -- skops -----------------------------------------------------------------------------


def dump_skops(obj: Any, file: Path) -> None:
    """Store ``obj`` with skops."""
    skops_io: Any = require("skops.io", extra="models", purpose="saving with skops")
    skops_io.dump(obj, file)


def load_skops(file: Path, options: LoadOptions) -> Any:
    """Load a skops file, refusing types that neither skops nor the caller trusts."""
    skops_io: Any = require("skops.io", extra="models", purpose="loading a skops model")
    untrusted = [
        t for t in skops_io.get_untrusted_types(file=file) if t not in options.trusted_types
    ]
    if untrusted and (options.recorded or options.explicit):
        return skops_io.load(file, trusted=[*options.trusted_types, *untrusted])
    if untrusted:
        listed = ", ".join(repr(t) for t in untrusted)
        raise UnsafeModelError(
            f"{file.parent} contains types that skops does not trust by default: {listed}. "
            "Loading them could run their code. If you trust them, pass "
            f"trusted_types=[{listed}] to load_model (nbtrack models serve --trust TYPE), "
            "or trust_code=True to trust everything the model names"
        )
    return skops_io.load(file, trusted=list(options.trusted_types) or None)


# -- classes by import path ------------------------------------------------------------


def class_path(cls: type, what: str) -> str:
    """``module:QualName`` of a class that can be imported again at load time."""
    module, qualname = cls.__module__, cls.__qualname__
    if module == "__main__" or "<locals>" in qualname:
        where = "__main__ (a notebook or script)" if module == "__main__" else "a function"
        raise InvalidInputError(
            f"{what} class {qualname} is defined in {where}, so it cannot be imported when "
            "the model is loaded. Move it to a module on the Python path, or pass "
            "serialization='pickle' (loading then needs allow_pickle=True)"
        )
    return f"{module}:{qualname}"
