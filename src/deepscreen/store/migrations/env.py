"""Alembic environment: runs on the connection the caller hands over (see store.db.upgrade)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from deepscreen.store.schema import all_metadata

config = context.config
target_metadata = all_metadata()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Called from the alembic command line with sqlalchemy.url set: open our own connection.
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no database connection was handed over and sqlalchemy.url is not "
                           "set: migrate with `deepscreen db upgrade` (or Database.upgrade)")
    engine = create_engine(url)
    with engine.begin() as own_connection:
        _run(own_connection)


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
