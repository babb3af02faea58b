"""``postseal serve`` as a real process: the CRL and CA URLs baked into the certificates
answer over plain HTTP (RFC 5280 §4.2.1.13, §4.2.2.1; RFC 2585 §3)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from tests.e2e.cli import Org, clean_environ, init_org

STARTUP_TIMEOUT = 20
STOP_TIMEOUT = 10


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Server:
    org: Org
    port: int
    process: subprocess.Popen[bytes]
    banner: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _wait_ready(process: subprocess.Popen[bytes], log: Path, errors: Path) -> str:
    """The readiness line ``serve`` prints on standard output."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}: {errors.read_text()}")
        banner = next(
            (line for line in log.read_text().splitlines() if "postseal serving" in line), None
        )
        if banner is not None:
            return banner
        time.sleep(0.05)
    raise AssertionError(
        f"serve did not report readiness within {STARTUP_TIMEOUT}s: {errors.read_text()}"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("serve")
    port = _free_port()
    org = init_org(base / "org", pki_url=f"http://127.0.0.1:{port}/pki")
    org.ok("user", "add", "bob@example.org")
    org.ok("user", "add", "carol@example.org")
    log, errors = base / "serve.out", base / "serve.err"
    with log.open("wb") as out, errors.open("wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "postseal",
                "--data-dir",
                str(org.data_dir),
                "serve",
                "--listen",
                f"http=127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=err,
            env=clean_environ(),
        )
    try:
        banner = _wait_ready(process, log, errors)
        yield Server(org, port, process, banner)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
            raise AssertionError(f"serve ignored SIGTERM for {STOP_TIMEOUT}s") from None
    assert status == 0, f"serve exited with {status} after SIGTERM: {errors.read_text()}"
    assert "Traceback" not in errors.read_text()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as http:
        yield http


def _user_cert(server: Server, address: str) -> x509.Certificate:
    serial = server.org.serial_of(address)
    return x509.load_pem_x509_certificate(
        server.org.ok("cert", "show", serial, "--pem").stdout_bytes
    )


def _urls(cert: x509.Certificate) -> tuple[str, str]:
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    crl_url = points[0].full_name[0].value
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    ca_url = next(
        d.access_location.value
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
    )
    return crl_url, ca_url


def test_banner_names_the_bound_address(server: Server) -> None:
    assert f"http on 127.0.0.1:{server.port}" in server.banner


def test_urls_in_the_certificate_serve_the_issuer_and_its_crl(
    server: Server, client: httpx.Client
) -> None:
    crl_url, ca_url = _urls(_user_cert(server, "bob@example.org"))
    assert crl_url.startswith(server.base + "/pki/")
    assert ca_url.startswith(server.base + "/pki/")

    issuer_response = client.get(ca_url)
    assert issuer_response.status_code == 200
    assert issuer_response.headers["content-type"] == "application/pkix-cert"
    issuer = x509.load_der_x509_certificate(issuer_response.content)
    user = _user_cert(server, "bob@example.org")
    user.verify_directly_issued_by(issuer)

    crl_response = client.get(crl_url)
    assert crl_response.status_code == 200
    assert crl_response.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(crl_response.content)
    assert crl.issuer == issuer.subject
    assert crl.is_signature_valid(issuer.public_key())
    assert crl.next_update_utc is not None


def test_served_crl_lists_a_serial_revoked_while_serving(
    server: Server, client: httpx.Client
) -> None:
    cert = _user_cert(server, "carol@example.org")
    crl_url, _ = _urls(cert)
    before = x509.load_der_x509_crl(client.get(crl_url).content)
    assert before.get_revoked_certificate_by_serial_number(cert.serial_number) is None
    server.org.ok("cert", "revoke", format(cert.serial_number, "X"), "--reason", "keyCompromise")
    after = x509.load_der_x509_crl(client.get(crl_url).content)
    entry = after.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        is x509.ReasonFlags.key_compromise
    )
    number = after.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > before.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


@pytest.mark.parametrize("name", ["issuing.crl", "root.crt", "root.crl", "ca.pem"])
def test_etag_revalidation_answers_304(server: Server, client: httpx.Client, name: str) -> None:
    first = client.get(f"{server.base}/pki/{name}")
    assert first.status_code == 200
    etag = first.headers["etag"]
    again = client.get(f"{server.base}/pki/{name}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    other = client.get(f"{server.base}/pki/{name}", headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200
    assert other.content == first.content


def test_head_answers_without_a_body(server: Server, client: httpx.Client) -> None:
    response = client.head(f"{server.base}/pki/issuing.crl")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pkix-crl"
    assert response.content == b""


@pytest.mark.parametrize(
    "path", ["/pki/unknown.crl", "/pki/master.key", "/pki/../postseal.db", "/other/root.crt"]
)
def test_unknown_names_are_404(server: Server, client: httpx.Client, path: str) -> None:
    assert client.get(server.base + path).status_code == 404
