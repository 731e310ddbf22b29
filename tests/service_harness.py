"""A real service app (TestClient) on SQLite or PostgreSQL, with one key per role, for tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deepscreen.service import ServiceSettings, create_app
from deepscreen.service.context import ServiceContext
from deepscreen.store import Database
from deepscreen.store import keys as api_keys

from postgres_schema import fresh_postgres_schema, postgres_unavailable_reason

# The hashes signal is what review confirmations feed; the others are not needed here and
# would only slow every upload down.
FAST_CONFIG = "signals: [hashes]\n"


@dataclass
class Harness:
    client: TestClient
    ctx: ServiceContext
    keys: dict[str, str]  # role -> plaintext key

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def upload(self, data: bytes, name: str = "upload.bin", role: str = "submitter",
               **form: str) -> Any:
        return self.client.post("/v1/scans", headers=self.headers(role),
                                files={"file": (name, data)}, data=form)

    def wait_done(self, scan_id: str, timeout_s: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            body = self.client.get(f"/v1/scans/{scan_id}", headers=self.headers("submitter")
                                   ).json()
            if body["status"] != "pending":
                return body
            time.sleep(0.05)
        raise AssertionError(f"scan {scan_id} still pending after {timeout_s} s")


def database_urls(backend: str, tmp_path: Path) -> AbstractContextManager[str]:
    """A fresh database URL for ``backend``; skips when PostgreSQL is not reachable."""
    if backend == "sqlite":
        @contextmanager
        def sqlite() -> Iterator[str]:
            yield f"sqlite:///{tmp_path / 'service.sqlite'}"
        return sqlite()
    reason = postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    return fresh_postgres_schema()


@contextmanager
def running_service(backend: str, tmp_path: Path, policy: str | None = None,
                    **overrides: Any) -> Iterator[Harness]:
    """The app with its lifespan running (workers, webhooks), one key per role."""
    config = tmp_path / "scan.yaml"
    config.write_text(FAST_CONFIG)
    policy_path = None
    if policy is not None:
        policy_path = tmp_path / "policy.yaml"
        policy_path.write_text(policy)
    with database_urls(backend, tmp_path) as url:
        settings = ServiceSettings(home=tmp_path / "home", database_url=url, config=config,
                                   policy=policy_path, webhook_secret="test-secret",
                                   **{"rate_per_s": 0, **overrides})
        app = create_app(settings)
        ctx: ServiceContext = app.state.ctx
        keys = _make_keys(ctx.db)
        with TestClient(app) as client:
            yield Harness(client=client, ctx=ctx, keys=keys)


def _make_keys(db: Database) -> dict[str, str]:
    made = {}
    with db.session() as session:
        for role, name in (("submitter", "platform-upload"), ("reviewer", "ann"),
                           ("admin", "ops")):
            made[role], _ = api_keys.create_key(session, name, role, actor="test")
    return made


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
