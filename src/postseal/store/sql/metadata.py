"""The SQLAlchemy ``MetaData`` every table of the store is declared on."""

from __future__ import annotations

from sqlalchemy import MetaData

__all__ = ["metadata"]

# Named constraints let later migrations alter them, and SQLite's batch mode recreate them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
