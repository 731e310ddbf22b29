"""Service settings: every knob from one place, environment variables first.

Each field has a ``DEEPSCREEN_<NAME>`` variable (upper case); lists are comma-separated.
The defaults run an embedded service with no setup: SQLite and blobs in the data directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..config import ScanConfig, default_home
from ..errors import DeepscreenError
from ..store.db import default_database_url
from .admission import AdmissionLimits
from .callbacks import CallbackPolicy
from .secret_files import read_or_create_secret

MULTIPART_ALLOWANCE = 1 << 20  # form framing and fields around an upload's bytes


@dataclass(frozen=True)
class ServiceSettings:
    """How the service stores, screens, limits and notifies."""

    # Data folder: the SQLite database, quarantined media, signing secrets.
    home: Path = field(default_factory=default_home)
    # SQLAlchemy URL (postgresql://...); unset: SQLite in the data folder (service.sqlite).
    database_url: str | None = None
    config: Path | None = None  # scan config YAML (signals, limits, signal options)
    policy: Path | None = None  # policy YAML; unset: the built-in default
    migrate: bool = True  # run migrations on start (turn off when a deploy step does it)
    # Images up to this size are answered in the request; larger items and all video and
    # audio become jobs (202 + id).
    sync_max_bytes: int = 20 << 20
    max_upload_bytes: int = 1 << 30  # an upload over this gets 413
    workers: int = 1  # in-process job threads; 0 accepts jobs but leaves them pending
    sync_scanners: int = 2  # scanners shared by synchronous requests
    job_max_attempts: int = 3  # a job whose process died this often is held as failed
    rate_per_s: float = 20.0  # tokens per second per API key; 0 turns rate limiting off
    rate_burst: int = 40  # a key's bucket size: the most requests it can make at once
    # redis://...: one token bucket per key shared by every process; unset: per process.
    rate_limit_url: str | None = None
    # Run jobs on Celery workers over this broker (redis://..., amqp://...); unset: threads.
    broker_url: str | None = None
    queue: str = "deepscreen"  # broker queue prefix: <queue>.live and <queue>.backfill
    # Redis only: seconds before an unacknowledged job goes to another worker. Must exceed
    # the longest scan, or a slow job runs twice (harmless, but wasted work).
    broker_visibility_timeout: int = 3600
    webhook_urls: tuple[str, ...] = ()  # every finished scan is POSTed to each
    webhook_secret: str | None = None  # HMAC key of webhook signatures; unset: made once
    ui_secret: str | None = None  # signs review-UI cookies; unset: made once (0600 file)
    webhook_max_attempts: int = 8  # a delivery is given up after this many attempts
    webhook_backoff_s: float = 2.0  # first retry delay; doubles each attempt
    webhook_timeout_s: float = 10.0  # one delivery attempt's time limit
    # Hosts a per-request callback_url may name: unset allows any host whose every address
    # is public; a list allows only those hosts, and lets them be internal.
    callback_hosts: tuple[str, ...] = ()
    callback_ports: tuple[int, ...] = (80, 443, 8080, 8443)  # ports a callback_url may use
    # Banks that POST /v1/hashes may propose entries for (each waits for a reviewer's
    # approval); unset: hash submissions are refused.
    submission_banks: tuple[str, ...] = ()
    max_in_flight: int = 32  # uploads read and screened at once in this process; 0: no bound
    max_in_flight_per_key: int = 8  # uploads at once for one API key; 0: no bound
    # Requests at once from one peer address; 0: off (behind a proxy, let it do this).
    max_in_flight_per_client: int = 64
    body_idle_timeout_s: float = 30.0  # a request body silent this long is cut with 408
    body_timeout_s: float = 600.0  # a request body that takes longer in all is cut with 408
    log_json: bool = True  # JSON Lines logs on stderr (false: plain text)

    @property
    def data_dir(self) -> Path:
        return self.home / "service"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    def admission_limits(self) -> AdmissionLimits:
        return AdmissionLimits(upload_max_bytes=self.max_upload_bytes + MULTIPART_ALLOWANCE,
                               max_in_flight=self.max_in_flight,
                               max_in_flight_per_key=self.max_in_flight_per_key,
                               max_in_flight_per_client=self.max_in_flight_per_client,
                               body_idle_timeout_s=self.body_idle_timeout_s,
                               body_timeout_s=self.body_timeout_s)

    def callback_policy(self) -> CallbackPolicy:
        return CallbackPolicy(allowed_hosts=self.callback_hosts, ports=self.callback_ports)

    def scan_config(self) -> ScanConfig:
        return ScanConfig.load(self.config, home=self.home)

    def resolved_webhook_secret(self) -> str:
        """The HMAC key for webhook signatures; generated (mode 0600) on first use if unset."""
        return self.webhook_secret or read_or_create_secret(self.data_dir / "webhook.secret")

    def resolved_ui_secret(self) -> str:
        """The key that signs review-UI cookies; shared by processes on one data folder."""
        return self.ui_secret or read_or_create_secret(self.data_dir / "ui.secret")

    def resolved_database_url(self) -> str:
        """``database_url``, else SQLite in the home folder."""
        return self.database_url or default_database_url(self.home)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> ServiceSettings:
        """Settings from ``DEEPSCREEN_*`` variables, then ``overrides`` (not None) on top."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"DEEPSCREEN_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise DeepscreenError(f"unknown service setting(s): {', '.join(sorted(unknown))}")
        return cls(**values)


def _parse(name: str, annotation: Any, raw: str) -> Any:
    kind = str(annotation)
    try:
        if "Path" in kind:
            return Path(raw).expanduser()
        if kind == "bool":
            if raw.lower() not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(f"{raw!r} is not a boolean")
            return raw.lower() in {"1", "true", "yes", "on"}
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind.startswith("tuple[int"):
            return tuple(int(part) for part in raw.split(",") if part.strip())
        if kind.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return raw
    except ValueError as exc:
        raise DeepscreenError(f"DEEPSCREEN_{name.upper()}: {exc}") from exc
