"""SMTP worker processes: more event loops accepting on serve's SMTP sockets (ADR 0024).

One event loop runs one core's worth of Python; signing and encrypting a message is
about 10 ms of it. With ``mail.smtp_processes = N`` serve starts N - 1 workers, each a
``postseal serve --smtp-worker K`` process that inherits the *listening sockets* serve
bound (so a port is bound once, its errors reported once, and port 0 works) and accepts
on them: the kernel hands each new connection to whichever process accepts first, so a
busy process takes fewer. A worker has its own store connections, group commit and
queue runner (its leases are named ``NODE.smtpK``, so it frees only its own predecessor's
after a crash); everything it shares with serve is in the store, where the PKI state
token, the policy version and the leases keep every process consistent.

Serve watches its workers: one that exits while serve runs is started again (after 1 s,
doubling up to 30 s while it keeps failing at once). On shutdown every worker gets
SIGTERM — it stops accepting, finishes the messages it is committing, and exits — and is
killed after the grace period. A worker whose parent disappears (serve killed with
SIGKILL) stops by itself within a second, so no orphan keeps accepting mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping

from postseal.config import ENV_DATA_DIR, Settings

__all__ = ["SmtpWorkers", "worker_command"]

log = logging.getLogger(__name__)

_RESTART_FIRST, _RESTART_MAX = 1.0, 30.0
_QUICK_EXIT = 10.0  # a worker that dies sooner than this after starting backs off longer


def worker_command(number: int, sockets: Mapping[str, int]) -> list[str]:
    """The command line of worker ``number`` serving the inherited ``sockets``; it names
    this process, so a worker that starts after serve died stops at once."""
    command = [sys.executable, "-m", "postseal", "serve", "--smtp-worker", str(number)]
    command += ["--serve-pid", str(os.getpid())]
    for name, fd in sockets.items():
        command += ["--inherit", f"{name}={fd}"]
    return command


class SmtpWorkers:
    """``count`` worker processes serving the listening ``sockets`` (name → descriptor)."""

    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str],
        sockets: Mapping[str, int],
        *,
        count: int,
        grace: float = 15.0,
    ) -> None:
        self._sockets = dict(sockets)
        self._count = count
        self._grace = grace
        # The workers load the same settings: same data directory, same store (an
        # override given on serve's command line travels in the environment, never in
        # the process list).
        self._environ = {
            **environ,
            ENV_DATA_DIR: str(settings.data_dir),
            "POSTSEAL_STORE_DATABASE_URL": settings.store.database_url,
        }
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes.values() if p.returncode is None]

    async def start(self) -> None:
        for number in range(1, self._count + 1):
            self._watchers.append(
                asyncio.create_task(self._keep(number), name=f"SMTP worker {number}")
            )

    async def stop(self) -> None:
        """SIGTERM every worker, wait up to the grace period, then SIGKILL."""
        self._stopping = True
        running = [p for p in self._processes.values() if p.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        waits = [asyncio.ensure_future(p.wait()) for p in running]
        if waits:
            _, late = await asyncio.wait(waits, timeout=self._grace)
            for process in running:
                if process.returncode is None:
                    log.error("SMTP worker %d did not stop in %s s; killing it", process.pid,
                              self._grace)  # fmt: skip
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            if late:
                await asyncio.wait(late, timeout=5.0)
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)

    async def _keep(self, number: int) -> None:
        delay = _RESTART_FIRST
        loop = asyncio.get_running_loop()
        while not self._stopping:
            started = loop.time()
            process = await asyncio.create_subprocess_exec(
                *worker_command(number, self._sockets),
                stdin=asyncio.subprocess.DEVNULL,
                env=self._environ,
                pass_fds=tuple(self._sockets.values()),
            )
            self._processes[number] = process
            log.info("SMTP worker %d started (pid %d)", number, process.pid)
            status = await process.wait()
            if self._stopping:
                return
            log.error("SMTP worker %d (pid %d) exited with %s; starting it again in %.0f s",
                      number, process.pid, status, delay)  # fmt: skip
            await asyncio.sleep(delay)
            quick = loop.time() - started < _QUICK_EXIT
            delay = min(delay * 2, _RESTART_MAX) if quick else _RESTART_FIRST


async def watch_parent(parent: int, stop: asyncio.Event, *, every: float = 1.0) -> None:
    """Set ``stop`` once the process that started this one is gone (re-parented)."""
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("serve (pid %d) is gone; this SMTP worker stops", parent)
            stop.set()
            return
        await asyncio.sleep(every)
