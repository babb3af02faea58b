"""The alembic migration tree of the SQL store (one tree for SQLite and PostgreSQL).

There is no ``alembic.ini``: :mod:`postseal.store.sql.schema` builds the alembic
configuration in code and hands ``env.py`` an open connection. New revisions are written
by hand in ``versions/`` and must leave the database equal to
:mod:`postseal.store.sql.tables` (the contract suite checks this on both dialects).
"""
