"""Headless runs, ``reproduce`` and a sweep, run again on a PostgreSQL store.

One test of each kind (each starts kernels, so the slow ones are not all
repeated): the kernels and the sweep's children find the store through
``NBTRACK_TRACKING_URI``, which ``postgres_store`` points at a fresh schema.
"""

from __future__ import annotations

import pytest

from test_projects_reproduce import (  # noqa: F401 (collected here)
    test_a_deterministic_notebook_reproduces_with_zero_delta,
)
from test_projects_run import (  # noqa: F401
    test_injected_values_keep_their_types_and_the_notebook_joins_the_run,
)
from test_projects_sweep import test_a_grid_sweep_on_the_local_process_pool  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres_store")]
