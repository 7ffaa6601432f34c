"""The registry and ``models:/`` tests, run again on a PostgreSQL store.

The bodies are those of the SQLite modules; ``postgres_store`` makes each
test's default store (and its children's, through ``NBTRACK_TRACKING_URI``)
a fresh schema of the test server.
"""

from __future__ import annotations

import pytest

from test_models_uris import *  # noqa: F403
from test_registry_api import *  # noqa: F403
from test_registry_concurrency import *  # noqa: F403
from test_registry_search import *  # noqa: F403

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres_store")]
