"""swaks, a real SMTP client (Perl, Net::SSLeay), against the three listeners."""

from __future__ import annotations

import asyncio

import pytest

from postseal.protocols.smtp import SmtpListener
from tests.peers import require_tool

from .conftest import SmtpPki
from .fakes import ALICE, BOB, PASSWORD, FakeIntake

pytestmark = pytest.mark.interop


async def swaks(*args: str) -> tuple[int, str]:
    tool = require_tool("swaks", package="swaks")
    process = await asyncio.create_subprocess_exec(
        tool,
        "--server",
        "127.0.0.1",
        "--timeout",
        "10",
        "--header",
        "Subject: swaks",
        "--body",
        "hello from swaks",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, output.decode(errors="replace")


async def test_swaks_mx(mx: SmtpListener, intake: FakeIntake) -> None:
    status, output = await swaks(
        "--port", str(mx.port), "--from", "carol@remote.example", "--to", BOB, "--pipeline"
    )
    assert status == 0, output
    assert "250 2.0.0 OK queued as Q0001" in output
    assert intake.accepted[0].rcpt_tos == (BOB,)


async def test_swaks_submission_starttls_auth_plain(
    submission: SmtpListener, intake: FakeIntake, pki: SmtpPki
) -> None:
    status, output = await swaks(
        "--port",
        str(submission.port),
        "--from",
        ALICE,
        "--to",
        BOB,
        "--tls",
        "--tls-verify",
        "--tls-ca-path",
        str(pki.ca_path),
        "--tls-sni",
        "localhost",
        "--auth",
        "PLAIN",
        "--auth-user",
        ALICE,
        "--auth-password",
        PASSWORD,
    )
    assert status == 0, output
    assert "235 2.7.0 Authentication successful" in output
    [envelope] = intake.accepted
    assert envelope.auth_user == ALICE and envelope.tls
    assert b"hello from swaks" in envelope.data


async def test_swaks_submissions_tls_on_connect_auth_login(
    submissions: SmtpListener, intake: FakeIntake, pki: SmtpPki
) -> None:
    status, output = await swaks(
        "--port",
        str(submissions.port),
        "--from",
        ALICE,
        "--to",
        BOB,
        "--tls-on-connect",
        "--tls-verify",
        "--tls-ca-path",
        str(pki.ca_path),
        "--auth",
        "LOGIN",
        "--auth-user",
        ALICE,
        "--auth-password",
        PASSWORD,
    )
    assert status == 0, output
    assert intake.accepted[0].auth_user == ALICE


async def test_swaks_wrong_password(submission: SmtpListener, pki: SmtpPki) -> None:
    status, output = await swaks(
        "--port",
        str(submission.port),
        "--from",
        ALICE,
        "--to",
        BOB,
        "--tls",
        "--tls-ca-path",
        str(pki.ca_path),
        "--auth",
        "PLAIN",
        "--auth-user",
        ALICE,
        "--auth-password",
        "wrong",
    )
    assert status != 0
    assert "535 5.7.8 Authentication credentials invalid" in output
