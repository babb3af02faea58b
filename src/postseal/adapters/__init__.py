"""Adapters: concrete implementations of the ports in :mod:`postseal.services.ports`.

Only the composition root (``postseal.runtime``) constructs them; services see the ports.
"""

from __future__ import annotations

from postseal.adapters.clamav import ClamdScanner

__all__ = ["ClamdScanner"]
