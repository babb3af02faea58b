"""What every command handler receives: settings, output and a way to open services."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from postseal.cli.output import Output
from postseal.config import Settings
from postseal.runtime import Services, open_services

__all__ = ["Context", "Handler"]

ACTOR = "cli"


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    environ: Mapping[str, str]
    out: Output

    @contextlib.asynccontextmanager
    async def services(self) -> AsyncIterator[Services]:
        async with open_services(self.settings, self.environ) as services:
            yield services


Handler = Callable[[argparse.Namespace, Context], Awaitable[int]]
