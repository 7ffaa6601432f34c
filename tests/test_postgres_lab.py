"""The JupyterLab Experiments view in a real browser, on a PostgreSQL store.

The lab server (and its kernels) inherit ``NBTRACK_TRACKING_URI``, which
``postgres_store`` points at a fresh schema: the view must list, chart and
compare the runs logged there exactly as it does for a SQLite store.
"""

from __future__ import annotations

import pytest

from test_experiments_view_browser import test_experiments_view  # noqa: F401 (collected here)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres_store")]
