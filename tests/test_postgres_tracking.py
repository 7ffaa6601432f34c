"""The tracking tests of test_fluent, test_client and test_logged_models, run again on a
PostgreSQL store.

The bodies are the same functions; ``postgres_store`` makes each test's default
store a fresh schema of the test server. Tests about the SQLite file itself
(its directory, permissions, journal) stay in their own modules only.
"""

from __future__ import annotations

import pytest

from test_client import *  # noqa: F403
from test_fluent import *  # noqa: F403
from test_logged_models import *  # noqa: F403

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres_store")]

# About the SQLite file and its directory: blob files under .nbtrack/, a second
# client on the file's path, the file read with sqlite3, the URI of the default store.
for _name in (
    "test_same_file_logged_by_100_runs_is_stored_once",
    "test_garbage_collect",
    "test_two_clients_share_one_store",
    "test_set_and_get_tracking_uri",
    "test_flush_makes_logged_values_durable",
):
    del globals()[_name]
