"""Custody of secrets at rest: the master key and what it seals."""

from postseal.custody.master import MasterKey, PrivateKey

__all__ = ["MasterKey", "PrivateKey"]
