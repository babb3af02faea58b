"""Certificates issued per second, beside the CA key's raw signing speed in the same run.

For each key type, a fresh organisation is initialised in a temporary data directory
(SQLite, as `make run` uses), N users are added without certificates, and
``CertificateService.issue`` is timed for each: key generation for the user, building and
signing the certificate, wrapping the key under the master key, storing it and publishing
it into both directory attributes, all in one transaction. In the same run the CA key's
raw speed is measured (signing a TBSCertificate-sized message), and so are user key
generation and the store's durable commit (SQLite WAL, synchronous=FULL), which bound
issuance as much as signing does. Printed: issued/s, raw CA signatures/s, their ratio,
and the ratio to the bound 1 / (sign + keygen + commit).

    python bench/pki.py            # N = 40 per key type
    python bench/pki.py --quick    # N = 10, under 20 seconds
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from postseal.config import load_settings
from postseal.pki.keys import CaKey, KeyType, generate_key
from postseal.runtime import initialise, open_services
from postseal.services.setup import InitRequest

KEY_TYPES: tuple[KeyType, ...] = ("rsa-2048", "ecdsa-p256")


def _per_second(action: object, seconds: float = 1.0) -> float:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        action()  # type: ignore[operator]
        count += 1
    return count / elapsed


def raw_sign_rate(key: CaKey) -> float:
    message = os.urandom(700)  # about the size of a user certificate's TBSCertificate
    if isinstance(key, rsa.RSAPrivateKey):
        return _per_second(lambda: key.sign(message, padding.PKCS1v15(), hashes.SHA256()))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return _per_second(lambda: key.sign(message, ec.ECDSA(hashes.SHA256())))


async def issue_rate(key_type: KeyType, count: int) -> tuple[float, float, float, float]:
    with tempfile.TemporaryDirectory(prefix="postseal-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        settings = load_settings(data_dir, environ={})
        await initialise(
            settings,
            {},
            InitRequest(
                org="Bench Org",
                domain="example.org",
                hostname="mail.example.org",
                pki_url="http://pki.example.org/pki",
                key_type=key_type,
            ),
        )
        async with open_services(settings, {}) as services:
            for i in range(count):
                await services.directory.add_user(
                    f"user{i}@example.org", issue_certificate=False, actor="bench"
                )
            ca_record = next(
                r
                for r in await services.certificates.list_certificates()
                if r.role.value == "issuing"
            )
            ca_key = await services.certificates.private_key(ca_record)
            assert isinstance(ca_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
            timings = []
            for i in range(count):
                start = time.perf_counter()
                await services.certificates.issue(f"user{i}@example.org", actor="bench")
                timings.append(time.perf_counter() - start)
            signs = raw_sign_rate(ca_key)
            keygens = _per_second(lambda: generate_key(key_type), 1.0)
            commits, start = 0, time.perf_counter()
            while time.perf_counter() - start < 1.0:
                async with services.store.begin() as tx:
                    await tx.meta.set("bench", str(commits))
                commits += 1
            commit_rate = commits / (time.perf_counter() - start)
        return 1 / statistics.mean(timings), signs, keygens, commit_rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--count", type=int)
    args = parser.parse_args()
    count = args.count or (10 if args.quick else 40)
    print(f"postseal bench/pki.py — {count} issuances per key type, SQLite store, one process")
    print(
        f"{'key type':<12}{'issued/s':>10}{'CA signs/s':>12}{'ratio':>8}"
        f"{'keygen/s':>10}{'commits/s':>11}{'vs bound':>10}"
    )
    for key_type in KEY_TYPES:
        issued, signs, keygens, commits = await issue_rate(key_type, count)
        # An issuance is one signature, one key generation and one durable write transaction.
        bound = 1 / (1 / signs + 1 / keygens + 1 / commits)
        print(
            f"{key_type:<12}{issued:>10.1f}{signs:>12.0f}{issued / signs:>8.3f}"
            f"{keygens:>10.1f}{commits:>11.0f}{issued / bound:>10.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
