"""Typed settings parsed once from postseal.toml, POSTSEAL_* variables and CLI flags."""

from postseal.config.loader import ENV_DATA_DIR, ENV_MASTER_KEY, load_settings
from postseal.config.settings import (
    ListenAddress,
    LogSettings,
    MailSettings,
    PkiSettings,
    QueueSettings,
    RelaySettings,
    Settings,
    StoreSettings,
)

__all__ = [
    "ENV_DATA_DIR",
    "ENV_MASTER_KEY",
    "ListenAddress",
    "LogSettings",
    "MailSettings",
    "PkiSettings",
    "QueueSettings",
    "RelaySettings",
    "Settings",
    "StoreSettings",
    "load_settings",
]
