"""Per-key rate limiting: a token bucket for each API key.

:class:`TokenBuckets` keeps the buckets in memory, which means per process: behind several
processes each enforces its own bucket and a key gets the rate times the process count.
:class:`RedisTokenBuckets` keeps them in Redis (``DEEPSCREEN_RATE_LIMIT_URL``), so every
process and host behind a load balancer shares one bucket per key.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    """What the auth dependency and the batch route need of a limiter."""

    rate: float  # tokens per second
    burst: int  # the bucket's size: the most one request can ever cost

    @property
    def enabled(self) -> bool: ...

    def take(self, key: str, cost: int = 1) -> float:
        """0 when the request may go ahead (``cost`` tokens taken), else the seconds until
        enough tokens are back (none taken)."""
        ...


def retry_after_header(wait_s: float) -> str:
    """``Retry-After`` in whole seconds, at least 1 (a client told 0 retries at once)."""
    return str(max(1, math.ceil(wait_s)))


class _Buckets:
    """``rate`` tokens per second up to ``burst``; a rate of 0 turns limiting off."""

    def __init__(self, rate: float, burst: int) -> None:
        if rate < 0 or burst < 1:
            raise ValueError("rate must be >= 0 and burst >= 1")
        self.rate = rate
        self.burst = burst

    @property
    def enabled(self) -> bool:
        return self.rate > 0


class TokenBuckets(_Buckets):
    """Buckets in memory: each request takes one token."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        super().__init__(rate, burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, key: str, cost: int = 1) -> float:
        """0 when the request may go ahead (``cost`` tokens taken), else the seconds until
        enough tokens are back (none taken). A cost over the burst is never paid; callers
        refuse such requests up front."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= cost:
                self._buckets[key] = (tokens - cost, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (cost - tokens) / self.rate


# The same bucket as TokenBuckets.take, run atomically inside Redis. Redis's own clock is
# used, so hosts with skewed clocks still share one refill rate. The result is a string:
# Redis truncates Lua numbers to integers on the way out.
_TAKE_SCRIPT = """
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens = tonumber(state[1]) or burst
local last = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost
else wait = (cost - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'last', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisTokenBuckets(_Buckets):
    """Token buckets shared through Redis by every service process.

    When Redis cannot be reached the request is let through (and logged): a rate limiter
    that fails closed would turn a Redis outage into a screening outage, while the
    in-flight limit (``DEEPSCREEN_MAX_IN_FLIGHT``) still protects each process.
    """

    def __init__(self, url: str, rate: float, burst: int, prefix: str = "deepscreen:rate:",
                 client: Any = None) -> None:
        super().__init__(rate, burst)
        import redis  # the service extra; imported here so the in-memory path needs no Redis

        self.prefix = prefix
        self._client = client or redis.Redis.from_url(url, socket_timeout=0.5,
                                                      socket_connect_timeout=0.5)
        self._take = self._client.register_script(_TAKE_SCRIPT)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

    def take(self, key: str, cost: int = 1) -> float:
        if not self.enabled:
            return 0.0
        try:
            wait = self._take(keys=[self.prefix + key], args=[repr(self.rate), self.burst, cost])
        except self._errors as exc:
            log.warning("rate limiter: Redis unavailable, request let through: %s", exc)
            return 0.0
        return float(wait)


def make_rate_limiter(rate: float, burst: int, url: str | None) -> RateLimiter:
    """Shared buckets in Redis when ``url`` is given, else in-memory ones."""
    return RedisTokenBuckets(url, rate, burst) if url else TokenBuckets(rate, burst)
