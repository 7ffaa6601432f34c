"""Autolog: training code logs its params, metrics and model without log calls.

``nbtrack.autolog()`` enables every integration whose library is installed;
``nbtrack.sklearn.autolog()`` one of
them. The names and semantics are MLflow's, so ``mlflow.autolog()`` code runs
through ``import nbtrack as mlflow``. Nothing is patched until one of these is
called; ``disable=True`` puts the libraries' own methods back. In a notebook,
``%track start --autolog`` or ``%config Tracker.autolog = True``.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from nbtrack.autologging import _core

__all__ = ["autolog"]

log = logging.getLogger("nbtrack.autolog")

#: integration name -> (module importable to enable it, our module)
INTEGRATIONS: dict[str, tuple[str, str]] = {
    "sklearn": ("sklearn", "nbtrack.sklearn"),
    "xgboost": ("xgboost", "nbtrack.xgboost"),
    "lightgbm": ("lightgbm", "nbtrack.lightgbm"),
    "pytorch": ("lightning", "nbtrack.pytorch"),
}


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    extra_tags: dict[str, str] | None = None,
) -> list[str]:
    """Enable (or with ``disable=True`` disable) autolog for every installed library.

    Returns the integrations switched (those whose library is importable).
    Each integration's own ``autolog`` takes more options (e.g.
    ``nbtrack.sklearn.autolog(max_tuning_runs=10)``).
    """
    done = []
    for name, (library, module_name) in INTEGRATIONS.items():
        if importlib.util.find_spec(library) is None:
            continue
        module: Any = importlib.import_module(module_name)
        try:
            module.autolog(
                log_input_examples=log_input_examples,
                log_model_signatures=log_model_signatures,
                log_models=log_models,
                log_datasets=log_datasets,
                disable=disable,
                exclusive=exclusive,
                disable_for_unsupported_versions=disable_for_unsupported_versions,
                silent=silent,
                extra_tags=extra_tags,
            )
        except ImportError as exc:  # installed but broken: the others still work
            _core.report(name, "enable", exc)
            continue
        done.append(name)
    return done
