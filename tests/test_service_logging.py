"""Structured logs: one JSON object per line with the fields a call passes in ``extra``."""

from __future__ import annotations

import json
import logging

import pytest

pytest.importorskip("fastapi")

from deepscreen.service.jsonlog import JsonFormatter
from deepscreen.service.ratelimit import TokenBuckets


def test_json_formatter_keeps_extra_fields() -> None:
    record = logging.makeLogRecord({"name": "deepscreen.service", "levelname": "INFO",
                                    "msg": "scan %s finished", "args": ("abc",),
                                    "scan_id": "abc", "verdict": "block"})
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "scan abc finished" and entry["level"] == "info"
    assert entry["scan_id"] == "abc" and entry["verdict"] == "block"
    assert entry["at"].endswith("+00:00")


def test_json_formatter_includes_exceptions() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
        import sys

        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in entry["exception"]


def test_token_bucket_refills_over_time() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0])
    assert buckets.take("k") == 0 and buckets.take("k") == 0
    wait = buckets.take("k")
    assert wait == pytest.approx(0.5)
    assert buckets.take("other") == 0  # per key
    now[0] += 0.5
    assert buckets.take("k") == 0
    assert TokenBuckets(rate=0, burst=1).take("k") == 0  # disabled
