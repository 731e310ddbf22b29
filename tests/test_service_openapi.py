"""The committed docs/openapi.json is the document the service serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from deepscreen.service.openapi import REGENERATE, openapi_document, render
from service_harness import running_service

COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def test_committed_openapi_matches_the_code() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        f"docs/openapi.json is out of date; regenerate it with: {REGENERATE}")


def test_served_openapi_is_the_committed_one(tmp_path: Path) -> None:
    with running_service("sqlite", tmp_path) as h:
        served = h.client.get("/openapi.json").json()
    assert served == json.loads(COMMITTED.read_text(encoding="utf-8"))


def test_every_v1_endpoint_declares_its_security() -> None:
    document = openapi_document()
    schemes = set(document["components"]["securitySchemes"])
    assert schemes == {"HTTPBearer", "APIKeyHeader"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/v1/"):
                assert operation.get("security"), f"{method.upper()} {path} has no security"
