"""Finding, creating and checking the master key (docs/adr/0005-key-custody.md).

The key lives in ``DATA_DIR/master.key`` (mode 0600, base64) or, for deployments that keep
it in a secret manager, in ``POSTSEAL_MASTER_KEY``; the variable wins when both exist.
The store keeps a sealed check value, so a wrong key is refused before anything is read
or written.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from postseal.custody import MasterKey
from postseal.errors import KeyCustodyError

__all__ = ["MASTER_KEY_FILE", "create_master_key", "load_master_key", "verify_master_key"]

MASTER_KEY_FILE = "master.key"
_ENV = "POSTSEAL_MASTER_KEY"


def load_master_key(data_dir: Path, environ: Mapping[str, str]) -> MasterKey:
    """The master key from the environment or the data dir; KeyCustodyError if absent,
    unreadable, malformed, or readable by other users."""
    if _ENV in environ:
        return MasterKey.from_text(environ[_ENV])
    path = data_dir / MASTER_KEY_FILE
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeyCustodyError(
            f"no master key: {path} does not exist and {_ENV} is not set",
            hint="restore master.key from your backup, or set POSTSEAL_MASTER_KEY",
        ) from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyCustodyError(
            f"{path} is readable by other users (mode {stat.S_IMODE(info.st_mode):o})",
            hint=f"run `chmod 600 {path}`",
        )
    return MasterKey.from_text(path.read_text("ascii", errors="replace"))


def create_master_key(data_dir: Path, environ: Mapping[str, str]) -> tuple[MasterKey, Path | None]:
    """A new master key; written to ``master.key`` (0600, exclusively created) unless the
    environment provides one. Returns the key and the path written, if any."""
    if _ENV in environ:
        return MasterKey.from_text(environ[_ENV]), None
    key = MasterKey(os.urandom(32))
    path = data_dir / MASTER_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyCustodyError(
            f"{path} already exists; refusing to overwrite a master key"
        ) from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.to_text() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key, path


def verify_master_key(key: MasterKey, check_value: str | None) -> None:
    """Refuse a master key that did not create this store."""
    if check_value is None:
        raise KeyCustodyError(
            "the store holds no master-key check value; it was not created by `postseal init`"
        )
    if not key.matches(bytes.fromhex(check_value)):
        raise KeyCustodyError(
            "the master key does not belong to this store; nothing was changed",
            hint="use the master.key (or POSTSEAL_MASTER_KEY) this data directory was created with",
        )
