"""Driving the real ``postseal`` command line from tests.

:func:`invoke` runs ``postseal.cli.main.main`` in this process with its own standard
streams, so it works from module-scoped fixtures (where ``capsys`` is not available) and
captures the binary exports that go to ``sys.stdout.buffer``. :func:`spawn_cli` runs the
real entry point in a subprocess. Both see an environment without any ``POSTSEAL_*``
variable except those a test passes, so a developer's shell cannot change the outcome.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from postseal.cli.main import main

__all__ = [
    "CliResult",
    "Org",
    "clean_environ",
    "copy_org",
    "init_org",
    "invoke",
    "spawn_cli",
    "venv_tool",
]

PROCESS_TIMEOUT = 60


@dataclass(frozen=True, slots=True)
class CliResult:
    status: int
    stdout_bytes: bytes
    stderr: str

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``os.environ`` without ``POSTSEAL_*`` (plus ``extra``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTSEAL_")}
    env.update(extra or {})
    return env


@contextlib.contextmanager
def _streams(stdin: str) -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    out, err = io.BytesIO(), io.BytesIO()
    wrapped_out = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    wrapped_err = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), wrapped_out, wrapped_err
    try:
        yield out, err
    finally:
        wrapped_out.flush()
        wrapped_err.flush()
        sys.stdin, sys.stdout, sys.stderr = saved
        wrapped_out.detach()
        wrapped_err.detach()


def invoke(
    data_dir: Path | None,
    *args: str,
    stdin: str = "",
    env: Mapping[str, str] | None = None,
    as_json: bool = False,
) -> CliResult:
    """``postseal [--data-dir DIR] [--json] ARGS…`` in this process."""
    argv = [
        *(["--data-dir", str(data_dir)] if data_dir is not None else []),
        *(["--json"] if as_json else []),
        *args,
    ]
    with mock.patch.dict(os.environ, clean_environ(env), clear=True), _streams(stdin) as (out, err):
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse: --version, --help, usage errors
            status = exc.code if isinstance(exc.code, int) else 1
    return CliResult(status, out.getvalue(), err.getvalue().decode("utf-8"))


def spawn_cli(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = PROCESS_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command),
        capture_output=True,
        text=True,
        env=clean_environ(env),
        timeout=timeout,
        check=False,
    )


def venv_tool(name: str) -> str | None:
    """An executable installed beside this interpreter (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


@dataclass(frozen=True, slots=True)
class Org:
    data_dir: Path
    init: CliResult

    def run(
        self,
        *args: str,
        stdin: str = "",
        env: Mapping[str, str] | None = None,
        as_json: bool = False,
    ) -> CliResult:
        return invoke(self.data_dir, *args, stdin=stdin, env=env, as_json=as_json)

    def json(self, *args: str, stdin: str = "", env: Mapping[str, str] | None = None) -> Any:
        result = invoke(self.data_dir, *args, stdin=stdin, env=env, as_json=True)
        assert result.status == 0, result.stderr
        return result.json()

    def ok(self, *args: str, stdin: str = "") -> CliResult:
        result = self.run(*args, stdin=stdin)
        assert result.status == 0, f"postseal {' '.join(args)} failed: {result.stderr}"
        return result

    def state(self) -> tuple[Any, Any]:
        """What an administrator sees: ``user list`` and ``cert list``."""
        return self.json("user", "list"), self.json("cert", "list")

    def serial_of(self, address: str) -> str:
        """The newest valid certificate of ``address``."""
        for row in self.json("cert", "list", "--user", address):
            if row["status"] == "valid":
                return str(row["serial"])
        raise AssertionError(f"{address} has no valid certificate")


def init_org(
    data_dir: Path,
    *,
    key_type: str = "ecdsa-p256",
    org: str = "Example Org",
    domain: str = "example.org",
    pki_url: str | None = None,
) -> Org:
    args = ["init", "--org", org, "--domain", domain, "--key-type", key_type]
    if pki_url is not None:
        args += ["--pki-url", pki_url]
    result = invoke(data_dir, *args)
    assert result.status == 0, result.stderr
    return Org(data_dir, result)


def copy_org(org: Org, target: Path) -> Org:
    shutil.copytree(org.data_dir, target)
    return Org(target, org.init)
