"""``deepscreen serve``, ``deepscreen db upgrade`` and ``deepscreen apikey ...``.

The service needs the ``service`` extra (FastAPI, SQLAlchemy, ...); it is imported only when
one of these commands runs, so the rest of the CLI works without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import DeepscreenError
from .app import app
from .common import ConfigOption, HomeOption

if TYPE_CHECKING:  # imported for real only inside the commands (the service extra)
    from ..service.settings import ServiceSettings
    from ..store import Database

db_app = typer.Typer(help="The service database: migrations.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys for the service (submitter, reviewer, admin).",
                         no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(apikey_app, name="apikey")

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", envvar="DEEPSCREEN_DATABASE_URL", show_default=False,
                 help="SQLAlchemy URL, e.g. postgresql://user@host/db "
                      "[default: sqlite in the data directory]."),
]


def _settings(home: Path | None, database_url: str | None, **overrides: Any) -> ServiceSettings:
    try:
        from ..service.settings import ServiceSettings
    except ModuleNotFoundError as exc:
        raise DeepscreenError("the service needs its extra; from a checkout: "
                              f"pip install -e '.[service]' ({exc.name} is missing)") from exc
    return ServiceSettings.from_env(home=home, database_url=database_url, **overrides)


def _database(home: Path | None, database_url: str | None) -> Database:
    from ..store import Database

    return Database(_settings(home, database_url).resolved_database_url())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8080,
    migrate: Annotated[bool, typer.Option(
        "--migrate/--no-migrate",
        help="Bring the database schema up to date before serving.")] = True,
    workers: Annotated[int | None, typer.Option(
        min=0, help="In-process job threads; 0 accepts jobs but leaves them pending "
                    "[default: 1].", show_default=False)] = None,
    policy: Annotated[Path | None, typer.Option(
        "--policy", "-p", exists=True, dir_okay=False, show_default=False,
        help="Policy YAML [default: the built-in one].")] = None,
    database_url: DatabaseOption = None,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Run the screening service (HTTP API) with uvicorn.

    \b
    Examples:
      deepscreen apikey create --role admin --name ops    # make a first key
      deepscreen serve                        # SQLite in the data directory
      DEEPSCREEN_DATABASE_URL=postgresql://deepscreen@db/deepscreen \\
          deepscreen serve --host 0.0.0.0 --port 8080

    Every DEEPSCREEN_* setting is described in docs/service.md.
    """
    settings = _settings(home, database_url, migrate=migrate, workers=workers, policy=policy,
                         config=config)
    import uvicorn

    from ..service import create_app
    from ..service.jsonlog import configure_json_logging

    if settings.log_json:
        configure_json_logging()
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None,
                timeout_graceful_shutdown=10)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseOption = None, home: HomeOption = None) -> None:
    """Apply the schema migrations (what 'serve' does on start unless --no-migrate).

    \b
    Example:
      DEEPSCREEN_DATABASE_URL=postgresql://deepscreen@db/deepscreen deepscreen db upgrade
    """
    from ..store.db import current_revision

    database = _database(home, database_url)
    database.upgrade()
    typer.echo(f"database at revision {current_revision(database.engine)}")
    database.dispose()


@apikey_app.command("create")
def apikey_create(
    role: Annotated[str, typer.Option(help="submitter, reviewer or admin.")],
    name: Annotated[str, typer.Option(
        help="Who holds the key; reviewers' names go into the audit log.")],
    database_url: DatabaseOption = None,
    home: HomeOption = None,
) -> None:
    """Create an API key and print it once (only a salted hash is stored).

    \b
    Example:
      deepscreen apikey create --role reviewer --name "ann (trust & safety)"
    """
    from ..store import keys

    database = _database(home, database_url)
    database.upgrade()
    with database.session() as session:
        plaintext, row = keys.create_key(session, name, role, actor="cli")
    database.dispose()
    typer.echo(plaintext)
    typer.echo(f"key id {row.id}, role {row.role}; store it now: it is not shown again",
               err=True)


@apikey_app.command("list")
def apikey_list(database_url: DatabaseOption = None, home: HomeOption = None) -> None:
    """List keys (ids, names, roles; never the secrets)."""
    from ..store import keys

    database = _database(home, database_url)
    database.upgrade()
    table = Table(header_style="bold")
    for column in ("id", "name", "role", "created", "revoked"):
        table.add_column(column)
    with database.session() as session:
        for k in keys.list_keys(session):
            table.add_row(k.id, k.name, k.role, k.created_at.isoformat(timespec="seconds"),
                          k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "")
    database.dispose()
    Console().print(table)


@apikey_app.command("revoke")
def apikey_revoke(key_id: Annotated[str, typer.Argument(help="The key id from 'apikey list'.")],
                  database_url: DatabaseOption = None, home: HomeOption = None) -> None:
    """Revoke a key; requests with it fail from now on."""
    from ..store import keys

    database = _database(home, database_url)
    with database.session() as session:
        keys.revoke_key(session, key_id, actor="cli")
    database.dispose()
    typer.echo(f"revoked {key_id}")
