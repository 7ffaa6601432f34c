"""Alembic migrations of the store, applied on open (see ``nbtrack.store.migrate``).

``HEAD_REVISION`` is the newest revision; a test keeps it equal to the scripts'
head, so opening an up-to-date store never has to import Alembic.
"""

HEAD_REVISION = "0006"
