"""Rate limits shared through Redis: one bucket per key for every service process."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from celery_harness import REDIS_HOST, REDIS_PORT, flush_redis_db, free_redis_db
from deepscreen.service.ratelimit import RedisTokenBuckets, TokenBuckets, make_rate_limiter
from service_harness import running_service


@pytest.fixture
def redis_url() -> Iterator[str]:
    number = free_redis_db()
    yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"
    flush_redis_db(number)


def test_two_processes_share_one_bucket(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    first = RedisTokenBuckets(redis_url, rate=0.5, burst=3, prefix=prefix)
    second = RedisTokenBuckets(redis_url, rate=0.5, burst=3, prefix=prefix)  # another process
    assert [first.take("k"), second.take("k"), first.take("k")] == [0, 0, 0]
    wait = second.take("k")  # the burst is spent, whichever process spent it
    assert 1.5 < wait <= 2.0  # one token takes 1 / 0.5 s to come back
    assert first.take("other") == 0  # buckets are per key


def test_shared_bucket_refills(redis_url: str) -> None:
    buckets = RedisTokenBuckets(redis_url, rate=20.0, burst=1, prefix=f"test:{uuid.uuid4().hex}:")
    assert buckets.take("k") == 0
    assert buckets.take("k") > 0
    time.sleep(0.12)  # 20 tokens/s: one is back after 50 ms
    assert buckets.take("k") == 0


def test_unreachable_redis_lets_requests_through(caplog: pytest.LogCaptureFixture) -> None:
    buckets = RedisTokenBuckets("redis://127.0.0.1:1/0", rate=1.0, burst=1)
    with caplog.at_level(logging.WARNING):
        assert [buckets.take("k") for _ in range(3)] == [0, 0, 0]
    assert "Redis unavailable" in caplog.text


def test_settings_choose_the_limiter(redis_url: str) -> None:
    assert isinstance(make_rate_limiter(1.0, 2, None), TokenBuckets)
    assert isinstance(make_rate_limiter(1.0, 2, redis_url), RedisTokenBuckets)
    with pytest.raises(ValueError):
        make_rate_limiter(-1.0, 2, redis_url)


def test_service_answers_429_when_another_process_spent_the_bucket(redis_url: str,
                                                                    tmp_path: Path) -> None:
    with running_service("sqlite", tmp_path, rate_per_s=0.01, rate_burst=2,
                         rate_limit_url=redis_url) as h:
        headers = h.headers("submitter")
        assert h.client.get("/v1/scans/none", headers=headers).status_code == 404
        limiter = h.ctx.rate_limits
        assert isinstance(limiter, RedisTokenBuckets)
        [bucket] = limiter._client.keys(limiter.prefix + "*")
        key_id = bucket.decode()[len(limiter.prefix):]
        other_process = RedisTokenBuckets(redis_url, rate=0.01, burst=2)
        assert other_process.take(key_id) == 0  # spends the key's last token elsewhere
        limited = h.client.get("/v1/scans/none", headers=headers)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


@pytest.mark.parametrize("shared", [False, True])
def test_a_cost_takes_that_many_tokens_or_none(shared: bool, redis_url: str) -> None:
    buckets = (RedisTokenBuckets(redis_url, rate=1.0, burst=3, prefix=f"test:{uuid.uuid4().hex}:")
               if shared else TokenBuckets(rate=1.0, burst=3))
    assert buckets.take("k", cost=2) == 0  # 1 left
    assert buckets.take("k", cost=2) == pytest.approx(1.0, abs=0.05)  # refused: 1 short
    assert buckets.take("k") == 0  # the refusal took nothing, so the last token is still there
