"""Real brokers, real Celery worker processes and a real store for the scale-out tests.

Each test run gets its own queue prefix and, on Redis, an empty database number, so it
shares nothing with other runs; the Redis database is flushed (RabbitMQ queues deleted)
afterwards.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def free_redis_db() -> int:
    """An empty Redis database number (skips the test when Redis is unreachable)."""
    try:
        import redis
    except ImportError:
        pytest.skip("the redis client is not installed (pip install -e '.[service]')")
    for number in range(15, 0, -1):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number, socket_timeout=2)
        try:
            if client.dbsize() == 0:
                return number
        except redis.exceptions.ConnectionError as exc:
            pytest.skip(f"no Redis reachable at {REDIS_HOST}:{REDIS_PORT}: {exc}")
        finally:
            client.close()
    pytest.skip("every Redis database on 127.0.0.1:6379 is in use; none is free for a test")


def flush_redis_db(number: int) -> None:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number, socket_timeout=2)
    client.flushdb()
    client.close()


@dataclass
class Workers:
    """Worker subprocesses started by :meth:`start`; all stopped when the test ends."""

    env: dict[str, str]
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, command: list[str] | None = None, lanes: str = "live,backfill"
              ) -> subprocess.Popen[bytes]:
        """Start a solo-pool worker named ``name`` and wait until it takes jobs."""
        prefix = self.env["DEEPSCREEN_QUEUE"]
        queues = ",".join(f"{prefix}.{lane}" for lane in lanes.split(","))
        command = command or [sys.executable, "-m", "celery", "-A",
                              "deepscreen.service.celery_app", "worker", "--pool=solo",
                              f"--queues={queues}", f"--hostname={name}", "--without-gossip",
                              "--without-mingle", "--loglevel=info"]
        log_path = self.logs / f"{name.replace('@', '_')}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs[name] = proc
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            if " ready." in text:
                return proc
            if proc.poll() is not None:
                raise AssertionError(f"worker {name} exited with {proc.returncode}:\n{text}")
            time.sleep(0.2)
        raise AssertionError(f"worker {name} not ready after 90 s:\n"
                             f"{log_path.read_text(errors='replace')}")

    def log_text(self, name: str) -> str:
        return (self.logs / f"{name.replace('@', '_')}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


def rabbitmq_or_skip() -> str:
    """The local RabbitMQ URL (skips the test when nothing listens on 127.0.0.1:5672)."""
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=2):
            pass
    except OSError as exc:
        pytest.skip(f"no RabbitMQ reachable at 127.0.0.1:5672: {exc}")
    return RABBITMQ_URL


def delete_amqp_queues(url: str, prefix: str) -> None:
    """Remove the test's queues and exchanges (RabbitMQ keeps them after the test)."""
    from kombu import Connection

    with Connection(url, connect_timeout=5) as connection:
        channel = connection.default_channel
        for lane in ("live", "backfill"):
            name = f"{prefix}.{lane}"
            channel.queue_delete(name)
            channel.exchange_delete(name)


@contextmanager
def scale_out_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  extra: dict[str, str] | None = None, broker: str = "redis"
                  ) -> Iterator[tuple[dict[str, str], Workers]]:
    """Environment for a service and its workers: a fresh home, SQLite, a broker (Redis on
    an empty database number, or RabbitMQ) and a queue prefix of its own."""
    db_number = free_redis_db() if broker == "redis" else None
    url = (f"redis://{REDIS_HOST}:{REDIS_PORT}/{db_number}" if broker == "redis"
           else rabbitmq_or_skip())
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "DEEPSCREEN_HOME": str(home),
        "DEEPSCREEN_DATABASE_URL": f"sqlite:///{home / 'service.sqlite'}",
        "DEEPSCREEN_BROKER_URL": url,
        "DEEPSCREEN_QUEUE": f"dstest-{secrets.token_hex(4)}",
        "DEEPSCREEN_BROKER_VISIBILITY_TIMEOUT": "6",
        "DEEPSCREEN_LOG_JSON": "0",
        **(extra or {}),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    logs = tmp_path / "worker-logs"
    logs.mkdir()
    workers = Workers(env={**os.environ, **env}, logs=logs)
    try:
        yield env, workers
    finally:
        workers.stop_all()
        if db_number is not None:
            flush_redis_db(db_number)
        else:
            delete_amqp_queues(url, env["DEEPSCREEN_QUEUE"])


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str,
               interval_s: float = 0.1) -> None:
    """Poll ``condition`` until true; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
