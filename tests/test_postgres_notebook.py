"""The magics, panels and artifact tests, run again on a PostgreSQL store.

``postgres_store`` points the kernel's default store at a fresh schema of the
test server. Tests about the SQLite directory itself (the store path that
``%track status`` prints for it, temp files under ``.nbtrack/``, a copy of the
store directory) stay in their own modules only.
"""

from __future__ import annotations

import pytest

from test_artifacts import *  # noqa: F403
from test_notebook_magics import *  # noqa: F403
from test_ui_compare import *  # noqa: F403
from test_ui_table import *  # noqa: F403

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres_store")]

for _name in (
    "test_status",
    "test_hook_failures_are_logged_not_raised",
    "test_logging_through_the_client_leaves_no_temp_files",
    "test_the_table_creates_no_store_and_shows_runs_once_one_is_logged",
):
    del globals()[_name]
