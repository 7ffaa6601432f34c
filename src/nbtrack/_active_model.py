"""The active logged model (MLflow 3's ``set_active_model``): metrics logged without a
``model_id`` are linked to it, by the fluent API and the client alike; and the logged
model created last (``last_logged_model``).

Kept below both (the client reads it, :mod:`nbtrack._logged_models_fluent` sets it);
one per process, as in MLflow.
"""

from __future__ import annotations

_active_model_id: str | None = None
_last_model_id: str | None = None


def get() -> str | None:
    """The active logged model's id, or None."""
    return _active_model_id


def set_id(model_id: str | None) -> None:
    """Make ``model_id`` the active logged model (None: none)."""
    global _active_model_id
    _active_model_id = model_id


def last() -> str | None:
    """The id of the logged model this process created last, or None."""
    return _last_model_id


def created(model_id: str | None) -> None:
    """Remember ``model_id`` as the logged model created last (``last_logged_model``;
    None forgets it)."""
    global _last_model_id
    _last_model_id = model_id
