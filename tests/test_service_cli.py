"""``deepscreen db upgrade`` and ``deepscreen apikey create/list/revoke``; settings from env."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from typer.testing import CliRunner

from deepscreen.cli import app, load_commands
from deepscreen.errors import DeepscreenError
from deepscreen.service.settings import ServiceSettings
from deepscreen.store import Database
from deepscreen.store.keys import authenticate

load_commands()
runner = CliRunner()


def test_apikey_lifecycle_and_db_upgrade(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path)]
    upgraded = runner.invoke(app, ["db", "upgrade", *home])
    assert upgraded.exit_code == 0 and "revision 0003" in upgraded.output
    created = runner.invoke(app, ["apikey", "create", "--role", "reviewer", "--name", "ann",
                                  *home])
    assert created.exit_code == 0, created.output
    key = created.stdout.splitlines()[0]
    assert key.startswith("dsk_")
    db = Database(f"sqlite:///{tmp_path / 'service.sqlite'}")
    with db.session() as session:
        principal = authenticate(session, key)
        assert principal is not None and principal.name == "ann"
    listed = runner.invoke(app, ["apikey", "list", *home])
    assert "ann" in listed.output and key.split("_", 2)[2] not in listed.output
    revoked = runner.invoke(app, ["apikey", "revoke", principal.key_id, *home])
    assert revoked.exit_code == 0
    with db.session() as session:
        assert authenticate(session, key) is None
    db.dispose()


def test_apikey_bad_role_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["apikey", "create", "--role", "root", "--name", "x",
                                 "--home", str(tmp_path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, DeepscreenError)
    assert "role 'root' is not one of" in str(result.exception)


def test_settings_from_environment(tmp_path: Path) -> None:
    settings = ServiceSettings.from_env({
        "DEEPSCREEN_HOME": str(tmp_path), "DEEPSCREEN_WORKERS": "3",
        "DEEPSCREEN_RATE_PER_S": "2.5", "DEEPSCREEN_MIGRATE": "no",
        "DEEPSCREEN_WEBHOOK_URLS": "http://a/x, http://b/y",
        "DEEPSCREEN_DATABASE_URL": "postgresql://db/deepscreen"}, workers=4)
    assert settings.home == tmp_path and settings.workers == 4  # explicit beats env
    assert settings.rate_per_s == 2.5 and settings.migrate is False
    assert settings.webhook_urls == ("http://a/x", "http://b/y")
    assert settings.database_url == "postgresql://db/deepscreen"
    with pytest.raises(DeepscreenError, match="DEEPSCREEN_WORKERS"):
        ServiceSettings.from_env({"DEEPSCREEN_WORKERS": "many"})
    with pytest.raises(DeepscreenError, match="DEEPSCREEN_MIGRATE"):
        ServiceSettings.from_env({"DEEPSCREEN_MIGRATE": "perhaps"})


def test_generated_webhook_secret_is_private_and_stable(tmp_path: Path) -> None:
    settings = ServiceSettings(home=tmp_path)
    secret = settings.resolved_webhook_secret()
    assert len(secret) == 64 and settings.resolved_webhook_secret() == secret
    assert (settings.data_dir / "webhook.secret").stat().st_mode & 0o077 == 0
