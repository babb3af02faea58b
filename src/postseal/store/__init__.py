"""Persistence behind protocol-neutral ports (:mod:`postseal.store.ports`).

The only adapter is SQL (:mod:`postseal.store.sql`): SQLite embedded, PostgreSQL for
scale-out, one schema and one alembic migration tree for both.
"""
