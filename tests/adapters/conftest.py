"""Fixtures of the adapter tests: one real clamd for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.adapters.clamd import Clamd, start_clamd


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    with start_clamd(tmp_path_factory.mktemp("clamd")) as instance:
        yield instance
