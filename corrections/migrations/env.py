"""Alembic's entry point: migrations run on the connection corrections.migrate hands over."""

from alembic import context

context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():
    context.run_migrations()
