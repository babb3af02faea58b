"""Shared driver for postseal's fuzz targets (atheris, or a pure-Python mutation loop).

Every target module defines::

    def test_one_input(data: bytes) -> None   # returns, or raises a finding
    def seeds() -> list[bytes]                # the seed corpus, built at run time
    DICTIONARY: tuple[bytes, ...]             # tokens the mutators splice in (optional)

and ends with ``if __name__ == "__main__": _harness.main(sys.modules[__name__])``.

The contract under test: a hostile-input parser either returns a value or raises a
:class:`postseal.errors.PostsealError`. Targets wrap each call in
``contextlib.suppress(PostsealError)``; any other exception (``ValueError``,
``IndexError``, ``RecursionError``, a failed invariant ``AssertionError``) or a hang is a
finding.

Seeds come from ``../shared/testdata`` beside the checkout (``$POSTSEAL_TEST_SHARED_DIR``
overrides, as for the test suite) and from throwaway keys generated at start-up; they are
written to a temporary directory, never committed.

Run with atheris (coverage-guided, libFuzzer flags pass through)::

    python fuzz/cms_signed.py -max_total_time=60 corpus/

or with the pure-Python loop (no atheris needed; same target functions)::

    python fuzz/cms_signed.py --pure -runs=5000 -seed=1 -max_total_time=60

``--keep-going`` (atheris only) records the first input of each distinct finding
(exception type and innermost postseal frame) as ``finding-<sha1>`` and carries on,
instead of stopping at the first crash.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import re
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: A fixed "now" for every time-dependent check: runs must be reproducible.
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

Target = Callable[[bytes], None]


# -- seeds ------------------------------------------------------------------------------


def shared_testdata() -> Path | None:
    """``../shared/testdata`` beside the checkout (or ``$POSTSEAL_TEST_SHARED_DIR/testdata``)."""
    base = Path(os.environ.get("POSTSEAL_TEST_SHARED_DIR", REPO.parent / "shared"))
    path = base / "testdata"
    return path if path.is_dir() else None


def shared_files(*patterns: str, limit: int = 64, max_size: int = 64 * 1024) -> list[bytes]:
    """Contents of the shared test-data files matching the glob ``patterns`` (sorted, capped)."""
    root = shared_testdata()
    if root is None:
        return []
    found: list[bytes] = []
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if path.is_file() and path.stat().st_size <= max_size and len(found) < limit:
                found.append(path.read_bytes())
    return found


@functools.cache
def throwaway_pki() -> dict[str, Any]:
    """Throwaway keys and self-made certificates: an RSA, a P-256 and an X25519 recipient
    and an RSA signer, all issued by one Ed25519 root. Generated fresh per process."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    root_key = ed25519.Ed25519PrivateKey.generate()

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "postseal fuzz"),
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
            ]
        )

    def issue(cn: str, public: Any, usage: str) -> x509.Certificate:
        flags = dict.fromkeys(
            (
                "digital_signature",
                "content_commitment",
                "key_encipherment",
                "data_encipherment",
                "key_agreement",
                "key_cert_sign",
                "crl_sign",
                "encipher_only",
                "decipher_only",
            ),
            False,
        )
        flags[usage] = True
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(name("fuzz root"))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=30))
            .not_valid_after(NOW + timedelta(days=3650))
            .add_extension(x509.KeyUsage(**flags), critical=True)
            .add_extension(
                x509.SubjectAlternativeName([x509.RFC822Name(f"{cn}@fuzz.example")]),
                critical=False,
            )
        )
        if usage != "key_cert_sign":
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            )
        else:
            builder = builder.add_extension(
                x509.BasicConstraints(ca=True, path_length=None), critical=True
            )
        return builder.sign(root_key, None)

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p256_key = ec.generate_private_key(ec.SECP256R1())
    x25519_key = x25519.X25519PrivateKey.generate()
    signer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "root": issue("fuzz root", root_key.public_key(), "key_cert_sign"),
        "rsa": (rsa_key, issue("bob", rsa_key.public_key(), "key_encipherment")),
        "p256": (p256_key, issue("carol", p256_key.public_key(), "key_agreement")),
        "x25519": (x25519_key, issue("dana", x25519_key.public_key(), "key_agreement")),
        "signer": (signer_key, issue("alice", signer_key.public_key(), "digital_signature")),
    }


SAMPLE_MESSAGE = (
    b"From: alice@fuzz.example\r\nTo: bob@fuzz.example\r\nSubject: fuzz\r\n"
    b"Date: Thu, 15 Jan 2026 12:00:00 +0000\r\nMessage-ID: <1@fuzz.example>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"
)


# -- mutations (the pure driver and the pytest loop) -------------------------------------

_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0x84, 0x89, 0xFF, 0x0A, 0x0D, 0x20)
_DIGITS = re.compile(rb"[0-9]+")


def mutate(
    data: bytes, rng: random.Random, pool: Sequence[bytes], dictionary: Sequence[bytes] = ()
) -> bytes:
    """One to four random edits: bit flips, interesting bytes, truncations, deletions,
    insertions, duplications, splices with another seed, dictionary tokens, and
    length-field inflation (BER length octets and ASCII numbers such as ``{12}``)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(10)
        n = len(out)
        i = rng.randrange(n) if n else 0
        if op == 0 and n:  # bit flip
            out[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # interesting byte
            out[i] = rng.choice(_INTERESTING)
        elif op == 2 and n:  # truncation
            del out[rng.randrange(n) :]
        elif op == 3 and n:  # delete a chunk
            del out[i : i + rng.randint(1, 32)]
        elif op == 4:  # insert random bytes
            out[i:i] = rng.randbytes(rng.randint(1, 8))
        elif op == 5 and n:  # duplicate a chunk
            chunk = out[i : i + rng.randint(1, 64)]
            j = rng.randrange(n + 1)
            out[j:j] = chunk
        elif op == 6 and pool:  # splice with another input
            other = rng.choice(pool)
            if other:
                j = rng.randrange(len(other))
                out = out[:i] + other[j : j + rng.randint(1, 256)] + out[i + rng.randint(0, 64) :]
        elif op == 7 and dictionary:  # a dictionary token
            out[i:i] = rng.choice(dictionary)
        elif op == 8 and n > 1:  # BER length inflation after a plausible tag
            _inflate_ber(out, rng)
        elif op == 9:  # ASCII number inflation ({12} literals, SIZE=, Content-Length …)
            _inflate_number(out, rng)
    return bytes(out)


def _inflate_ber(out: bytearray, rng: random.Random) -> None:
    tags = [k for k in range(len(out) - 1) if out[k] in (0x02, 0x04, 0x06, 0x30, 0x31, 0xA0)]
    if not tags:
        return
    k = rng.choice(tags) + 1
    choice = rng.randrange(5)
    if choice == 0:
        out[k] = 0x80  # indefinite
    elif choice == 1:
        out[k] = 0x7F
    elif choice == 2:
        out[k : k + 1] = b"\x84\xff\xff\xff\xff"
    elif choice == 3:
        out[k : k + 1] = b"\x89" + b"\x01" * 9
    else:
        out[k] = (out[k] + rng.randint(1, 16)) & 0xFF  # a little longer than the value


def _inflate_number(out: bytearray, rng: random.Random) -> None:
    numbers = list(_DIGITS.finditer(bytes(out)))
    if not numbers:
        return
    m = rng.choice(numbers)
    big = rng.choice((b"0", b"4294967296", b"99999999999999999999", b"18446744073709551616"))
    out[m.start() : m.end()] = big


# -- hang detection ---------------------------------------------------------------------


class Hang(BaseException):
    """An input took longer than the per-input time budget."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread after ``seconds`` (SIGALRM; POSIX only)."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"input took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- drivers ----------------------------------------------------------------------------


def pure_loop(
    target: Target,
    corpus: Sequence[bytes],
    *,
    runs: int,
    seed: int = 0,
    max_time: float = 0.0,
    dictionary: Sequence[bytes] = (),
    timeout: float = 5.0,
) -> int:
    """Run ``target`` over ``corpus`` then over ``runs`` mutants (deterministic for a
    ``seed``). Returns the number of executions; a finding propagates (with
    ``__notes__`` naming the input's SHA-1 and length)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible mutations, not cryptography
    pool = list(corpus) or [b""]
    started = time.monotonic()
    execs = 0
    queue: list[bytes] = list(corpus)
    queue.extend(mutate(rng.choice(pool), rng, pool, dictionary) for _ in range(runs))
    for data in queue:
        if max_time and time.monotonic() - started > max_time:
            break
        try:
            with time_limit(timeout):
                target(data)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            exc.add_note(f"input sha1={hashlib.sha1(data).hexdigest()} len={len(data)}")  # noqa: S324
            exc.add_note(f"input={data[:2000]!r}")
            raise
        execs += 1
    return execs


def _flag(argv: list[str], name: str) -> str | None:
    return next((a.split("=", 1)[1] for a in argv if a.startswith(f"-{name}=")), None)


def write_seeds(corpus: Sequence[bytes], directory: Path) -> None:
    for data in corpus:
        (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)  # noqa: S324


def _pure_main(module: ModuleType, argv: list[str]) -> None:
    corpus = list(module.seeds())
    for arg in argv[1:]:
        if not arg.startswith("-") and Path(arg).is_dir():
            corpus.extend(p.read_bytes() for p in sorted(Path(arg).iterdir()) if p.is_file())
    runs = int(_flag(argv, "runs") or 100_000)
    seed = int(_flag(argv, "seed") or time.time_ns() % 2**32)
    max_time = float(_flag(argv, "max_total_time") or 0)
    timeout = float(_flag(argv, "timeout") or 5)
    print(f"pure-Python loop: {len(corpus)} seeds, runs={runs}, seed={seed}", file=sys.stderr)
    started = time.monotonic()
    try:
        execs = pure_loop(
            module.test_one_input,
            corpus,
            runs=runs,
            seed=seed,
            max_time=max_time,
            dictionary=getattr(module, "DICTIONARY", ()),
            timeout=timeout,
        )
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        traceback.print_exception(exc)
        sys.exit(1)
    elapsed = time.monotonic() - started
    print(f"done: {execs} execs in {elapsed:.1f} s, no finding", file=sys.stderr)


def finding_signature(exc: BaseException) -> str:
    """``ExceptionType at file:line`` of the innermost postseal (else innermost) frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/postseal/" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__} at {where}"


def keep_going(target: Target, prefix: str) -> Target:
    """Wrap ``target`` so that a finding is saved (first input per signature, as
    ``<prefix>finding-<sha1>``, libFuzzer's ``-artifact_prefix``) and fuzzing goes on."""
    seen: set[str] = set()

    def wrapped(data: bytes) -> None:
        try:
            target(data)
        except Exception as exc:
            signature = finding_signature(exc)
            if signature in seen:
                return
            seen.add(signature)
            path = Path(f"{prefix}finding-{hashlib.sha1(data).hexdigest()}")  # noqa: S324
            path.write_bytes(data)
            print(f"\n=== FINDING {signature}: {path}", file=sys.stderr)
            traceback.print_exception(exc)

    return wrapped


def _atheris_main(module: ModuleType, argv: list[str], *, keep: bool) -> None:
    import atheris

    # Coverage for every Python module loaded so far (postseal, asn1crypto, email, …).
    atheris.instrument_all()
    seed_dir = Path(tempfile.mkdtemp(prefix="postseal-fuzz-seeds-"))
    write_seeds(module.seeds(), seed_dir)
    args = list(argv)
    if not any(a.startswith("-timeout=") for a in args):
        args.append("-timeout=10")  # a single input over 10 s is a hang finding
    dictionary = getattr(module, "DICTIONARY", ())
    if dictionary and not any(a.startswith("-dict=") for a in args):
        dict_file = seed_dir.parent / f"{seed_dir.name}.dict"
        dict_file.write_text("".join(f'"{_dict_escape(t)}"\n' for t in dictionary))
        args.append(f"-dict={dict_file}")
    # libFuzzer writes new inputs to the first corpus directory and only reads the rest.
    args.append(str(seed_dir))
    print(f"seed corpus: {seed_dir}", file=sys.stderr)
    target = module.test_one_input
    if keep:
        target = keep_going(target, _flag(args, "artifact_prefix") or "./")
    atheris.Setup(args, target)
    atheris.Fuzz()


def _dict_escape(token: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\x{b:02x}" for b in token)


def main(module: ModuleType) -> None:
    """Entry point of every target: atheris when installed, else (or with ``--pure``)
    the pure-Python loop."""
    argv = [a for a in sys.argv if a not in ("--pure", "--keep-going")]
    pure = "--pure" in sys.argv
    keep = "--keep-going" in sys.argv
    if not pure:
        try:
            import atheris  # noqa: F401
        except ImportError:
            print("atheris is not installed: using the pure-Python loop", file=sys.stderr)
            pure = True
    if pure:
        _pure_main(module, argv)
    else:
        _atheris_main(module, argv, keep=keep)
