"""The one shape in which message bodies reach the store."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SealedBody"]


@dataclass(frozen=True, slots=True)
class SealedBody:
    """A message sealed by :mod:`postseal.custody.sealing`: the message key wrapped by its
    container's key, and the AES-GCM body. Opaque to the store."""

    wrapped_key: bytes
    ciphertext: bytes

    def __repr__(self) -> str:
        return f"SealedBody({len(self.wrapped_key)} + {len(self.ciphertext)} bytes)"
