"""``deepscreen worker``: a Celery worker that runs the service's scan jobs."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ..errors import DeepscreenError
from .app import app

POOLS = ("prefork", "solo", "threads")


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(
        "--concurrency", "-j", min=1, help="Jobs run at once (pool processes).")] = 1,
    pool: Annotated[str, typer.Option(
        "--pool", help=f"Celery pool: {', '.join(POOLS)}. 'solo' runs jobs in this process.",
    )] = "prefork",
    lanes: Annotated[str, typer.Option(
        "--lanes", help="Comma-separated lanes to take jobs from, first first: "
        "'live,backfill' (default), or 'live' for workers reserved to uploads.")] = "live,backfill",
    hostname: Annotated[str | None, typer.Option(
        "--hostname", "-n", help="Worker name in the audit log [default: celery@HOST].",
        show_default=False)] = None,
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "info",
) -> None:
    """Run scan jobs queued by the service (needs DEEPSCREEN_BROKER_URL).

    Run it with the service's DEEPSCREEN_* environment (database URL, home with the blob
    folder, config, policy) on any host that sees the same database and blob folder.

    \b
    Example:
      DEEPSCREEN_BROKER_URL=redis://127.0.0.1:6379/0 deepscreen worker -j 2
    """
    from ..service import celery_app
    from ..service.queues import broker_description, queue_name
    from ..service.settings import ServiceSettings

    settings = ServiceSettings.from_env()
    if not settings.broker_url:
        raise DeepscreenError("set DEEPSCREEN_BROKER_URL (e.g. redis://127.0.0.1:6379/0)"
                              " to the broker the service queues jobs on")
    if pool not in POOLS:
        raise DeepscreenError(f"--pool must be one of {', '.join(POOLS)}, not {pool!r}")
    chosen = [lane.strip() for lane in lanes.split(",") if lane.strip()]
    queues = ",".join(queue_name(settings, lane) for lane in chosen)
    argv = ["worker", f"--concurrency={concurrency}", f"--pool={pool}", f"--queues={queues}",
            f"--loglevel={loglevel}", "--without-gossip", "--without-mingle"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    typer.echo(f"deepscreen worker: {broker_description(settings)} queues {queues} "
               f"(pid {os.getpid()})", err=True)
    celery_app.app.worker_main(argv)
