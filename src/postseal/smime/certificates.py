"""Values derived from a certificate once, for every message it signs or encrypts to.

A ``cryptography`` certificate re-encodes itself on every ``public_bytes`` call (≈ 9 µs),
and its hash and equality go through that encoding too. Signing and encrypting need the
DER several times a message (signed attributes, the certificate set, issuer and serial
numbers), so :func:`der_of` remembers it per certificate object, and :class:`PerCertificate`
does the same for any other value computed from a certificate alone (policy checks).

Certificates are immutable, so a value stays right for as long as its object lives. The
memo holds the object itself: its ``id`` cannot be reused while the entry exists, and an
entry is only ever returned for the very object it was computed from. At most 256
objects are kept per memo, the oldest dropped first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

__all__ = ["PerCertificate", "der_of"]

T = TypeVar("T")
MAX_ENTRIES = 256


class PerCertificate(Generic[T]):
    """``compute(certificate)``, computed once per certificate object (thread-safe)."""

    def __init__(self, compute: Callable[[x509.Certificate], T]) -> None:
        self._compute = compute
        self._entries: dict[int, tuple[x509.Certificate, T]] = {}
        self._lock = threading.Lock()

    def __call__(self, certificate: x509.Certificate) -> T:
        """The value for ``certificate``; exceptions from ``compute`` are not remembered."""
        entry = self._entries.get(id(certificate))
        if entry is not None and entry[0] is certificate:
            return entry[1]
        value = self._compute(certificate)
        with self._lock:
            while len(self._entries) >= MAX_ENTRIES:
                del self._entries[next(iter(self._entries))]
            self._entries[id(certificate)] = (certificate, value)
        return value

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


#: The certificate's DER encoding, remembered per object.
der_of: PerCertificate[bytes] = PerCertificate(_der)
