"""The API documentation works offline, and a fresh service says how to create a key."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from deepscreen.service import ServiceSettings, create_app
from service_harness import running_service


def test_docs_pages_load_every_asset_from_the_service_itself(tmp_path: Path) -> None:
    with running_service("sqlite", tmp_path) as h:
        for page in ("/docs", "/redoc"):
            html = h.client.get(page)
            assert html.status_code == 200
            sources = re.findall(r'(?:src|href)="([^"]+)"', html.text)
            assert sources, html.text
            assert all(s.startswith("/") for s in sources), sources  # no CDN, no other host
            for source in sources:
                if source.startswith("/docs-assets/"):
                    asset = h.client.get(source)
                    assert asset.status_code == 200 and len(asset.content) > 1000, source
        assert "fonts.googleapis" not in h.client.get("/redoc").text


def test_a_service_without_keys_says_how_to_create_the_first(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    settings = ServiceSettings(home=tmp_path / "home", webhook_secret="s")
    with caplog.at_level(logging.WARNING, logger="deepscreen.service"), \
            TestClient(create_app(settings)):
        pass
    assert any("deepscreen apikey create --role admin" in r.getMessage() for r in caplog.records)
