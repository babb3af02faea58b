"""Locating the real peers and shared test data the suite talks to.

A test that needs a peer this machine lacks is skipped with the reason printed; `make test`
installs every peer, so CI skips nothing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_testdata() -> Path:
    """``../shared/testdata`` beside the checkout (or ``$POSTSEAL_TEST_SHARED_DIR/testdata``)."""
    base = Path(os.environ.get("POSTSEAL_TEST_SHARED_DIR", REPO.parent / "shared"))
    path = base / "testdata"
    if not path.is_dir():
        pytest.skip(f"shared test data not found at {path} (set POSTSEAL_TEST_SHARED_DIR)")
    return path


def require_tool(name: str, *, package: str) -> str:
    """Path of an executable, or skip naming the Debian package that provides it."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not installed (Debian package {package}; `make test` installs it)")
    return found
