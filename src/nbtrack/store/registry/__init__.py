"""The model registry's reads and writes: the only SQL behind :mod:`nbtrack.registry`.

``SqlStore.registry`` is a :class:`RegistryStore`; :mod:`nbtrack.registry`
checks its inputs and calls it. The SQL is SQLAlchemy Core, the same on
every backend; anything backend-specific goes through
:mod:`nbtrack.store._dialect`. Modules:

* ``_rows``: lookups that name what exists when they miss, the audit trail.
* ``_versions``: new models and versions (concurrent writers get consecutive
  numbers), stage transitions.
* ``_edits``: aliases, tags, descriptions, deletes.
* ``_filter``, ``_queries``: the registry's search grammar compiled to SQL.
* ``_records``: rows to :mod:`nbtrack.entities`.
* ``_imports``: models and versions from another registry, kept as they were.
"""

from nbtrack.store.registry._api import RegistryStore, StoredFiles
from nbtrack.store.registry._imports import ImportedModel, ImportedVersion
from nbtrack.store.registry._rows import Actor

__all__ = ["Actor", "ImportedModel", "ImportedVersion", "RegistryStore", "StoredFiles"]
