"""The C heap's settings for a mail process (glibc ``mallopt``; ADR 0025).

CPython hands every object over 512 bytes to the C ``malloc``, so a message's buffers
(the message, its canonical form, the CMS object, the base64 text: four or five copies of
50 KB for a signed and encrypted message) come from glibc's heap. glibc gives the top of
its heap back to the kernel as soon as more than 128 KiB of it are free
(``M_TRIM_THRESHOLD``), which a single 50 KB message crosses: the next message then
faults every page back in. Measured with ``bench/smime.py``, that was 45 to 60 page
faults and 100 to 120 µs of a 280 to 530 µs signed and encrypted message.

:func:`tune` raises the trim threshold to :data:`TRIM_THRESHOLD` and fixes the size from
which a buffer gets its own mapping at :data:`MMAP_THRESHOLD` (setting either stops
glibc's own adjustment of both, so both are set). A process then keeps up to 8 MiB of
freed heap for the next message; buffers of 1 MiB and more (large attachments) still
come and go as mappings, so they never pin heap.

Other C libraries (musl, macOS) have no ``mallopt`` of these parameters: :func:`tune`
then does nothing and says so.
"""

from __future__ import annotations

import ctypes
import functools

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune"]

#: Free heap above this many bytes at the top is returned to the kernel.
TRIM_THRESHOLD = 8 * 1024 * 1024
#: Buffers of at least this many bytes are mappings of their own.
MMAP_THRESHOLD = 1024 * 1024

# <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


@functools.cache
def tune() -> bool:
    """Apply :data:`TRIM_THRESHOLD` and :data:`MMAP_THRESHOLD` to this process's C heap.

    True when glibc took both; False when the C library has no such settings. Idempotent:
    the work is done by the first call.
    """
    try:
        libc = ctypes.CDLL(None)  # the symbols the process has loaded: its C library's
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 — present only in glibc
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
