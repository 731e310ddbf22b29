"""Helpers for tests that run against a real PostgreSQL: a throwaway schema per use.

The server is ``$DEEPSCREEN_TEST_POSTGRES_URL`` (default: trust auth on 127.0.0.1:5432,
user ``postgres``, database ``test``). Used by tests and by ``bench/load_test.py``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_TEST_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_server_url() -> str:
    return os.environ.get("DEEPSCREEN_TEST_POSTGRES_URL", DEFAULT_TEST_URL)


def postgres_unavailable_reason() -> str | None:
    """Why PostgreSQL cannot be used for tests, or ``None`` when it can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[service]')"
    url = postgres_server_url()
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"no PostgreSQL reachable at {make_url(url).render_as_string()}: {exc}"
    return None


@contextmanager
def fresh_postgres_schema() -> Iterator[str]:
    """A new empty schema; yields a URL whose connections use it, drops it afterwards."""
    server = make_url(postgres_server_url())
    schema = f"deepscreen_test_{secrets.token_hex(6)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = server.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
