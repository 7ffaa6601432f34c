"""Checks for the browser tests of the ``jupyterlab-nbtrack`` JupyterLab extension."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from _jupyter_browser import KERNEL_IDLE, Lab, dismiss_news

if TYPE_CHECKING:
    from playwright.sync_api import Page

LABEXTENSION = "jupyterlab-nbtrack"


def labextension_status() -> str | None:
    """The line ``jupyter labextension list`` prints for the extension; None if absent."""
    listing = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    for line in (listing.stdout + listing.stderr).splitlines():
        if line.split()[:1] == [LABEXTENSION]:
            return line.strip()
    return None


def skip_unless_labextension() -> None:
    """Skip the calling module unless the extension is installed and enabled."""
    line = labextension_status()
    if line is None:
        pytest.skip(
            f"{LABEXTENSION} is not installed (`jupyter labextension list` does not show it); "
            "`pip install -e .` builds and installs it",
            allow_module_level=True,
        )
    if "enabled" not in line or "disabled" in line:
        pytest.skip(
            f"{LABEXTENSION} is installed but not enabled ({line}); "
            f"`jupyter labextension enable {LABEXTENSION}`",
            allow_module_level=True,
        )


def open_notebook(page: Page, lab: Lab, path: str) -> None:
    """Open notebook ``path`` of ``lab`` in ``page``; return once its kernel is idle."""
    page.goto(lab.notebook_url(path))
    page.wait_for_function(KERNEL_IDLE, polling=250)
    dismiss_news(page)
