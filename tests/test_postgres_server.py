"""The server extension's API tests, run again with a PostgreSQL store configured.

``postgres_store`` sets ``NBTRACK_TRACKING_URI`` to a fresh schema, which the
extension serves. Tests about finding a SQLite store on disk (its directory,
the notebook's directory, an old schema file) stay in test_server_api only.
"""

from __future__ import annotations

import pytest

from test_server_api import *  # noqa: F403

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres_store")]

for _name in (
    "test_missing_store_is_empty_and_creates_nothing",
    "test_store_is_found_from_the_notebook_directory",
    "test_environment_variable_names_the_store",
    "test_a_relative_environment_variable_is_taken_from_the_notebook_directory",
    "test_an_old_schema_store_is_read_by_nothing_and_changed_by_no_get",
    "test_a_kernel_in_a_subdirectory_the_server_and_the_cli_share_one_store",
    "test_configured_tracking_uri_overrides_everything",
):
    del globals()[_name]
