"""``deepscreen submit``: backfill an archive into the service, at lower priority than uploads."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ..errors import DeepscreenError
from .app import EXIT_CLEAN, EXIT_ERROR, app
from .common import HomeOption


@app.command()
def submit(
    paths: Annotated[list[Path], typer.Argument(
        help="Files or folders (recursive) to submit as backfill jobs.", show_default=False)],
    max_in_flight: Annotated[int, typer.Option(
        "--max-in-flight", min=1,
        help="Pending backfill jobs at most; the submitter waits for workers beyond it.")] = 16,
    actor: Annotated[str, typer.Option(
        "--as", help="Submitter name in the audit log and scan records.")] = "backfill",
    wait: Annotated[bool, typer.Option(
        "--wait/--no-wait", help="With a broker: wait until the workers finish every job. "
        "Without one, this process runs the jobs and always waits.")] = True,
    workers: Annotated[int, typer.Option(
        "--workers", "-j", min=1, help="Job threads here when there is no broker.")] = 1,
    skip_known: Annotated[bool, typer.Option(
        "--skip-known/--rescreen", help="Skip files whose bytes were already screened or "
        "queued (so an interrupted run resumes), or screen everything again (after a policy "
        "or bank change).")] = True,
    home: HomeOption = None,
) -> None:
    """Store every file in the service's database and blob folder and screen it as a job.

    Uses the service's DEEPSCREEN_* environment (database URL, home, config, policy). With
    DEEPSCREEN_BROKER_URL set, jobs go to the Celery backfill queue, which workers take only
    when no upload is waiting; without it, this process runs them at a lower CPU priority.
    Either way no more than --max-in-flight jobs are pending at once.

    \b
    Example:
      deepscreen submit /archive/2019 --max-in-flight 32
    """
    from ..scan import iter_files
    from ..service.backfill import Backfill, backfill_service
    from ..service.settings import ServiceSettings

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise DeepscreenError(f"no such file or folder: {', '.join(missing)}")
    settings = ServiceSettings.from_env(home=home)
    service = backfill_service(settings, workers=workers)
    try:
        backfill = Backfill(service, max_in_flight=max_in_flight, actor=actor,
                            skip_known=skip_known, on_wait=_waiting_notice(max_in_flight))
        for path in paths:
            root = path if path.is_dir() else path.parent
            backfill.run(iter_files([str(path)]), root=root)
        progress = backfill.progress
        typer.echo(f"submitted {progress.submitted} file(s), skipped {len(progress.skipped)}, "
                   f"already screened {progress.already_screened}; paused {progress.waits} "
                   f"time(s) at {max_in_flight} in flight", err=True)
        for skipped, why in progress.skipped:
            typer.echo(f"  skipped {skipped}: {why}", err=True)
        if wait or (service.executor is not None and service.executor.runs_here):
            backfill.wait_done()
            typer.echo("every submitted job has finished", err=True)
    finally:
        service.stop()
    raise typer.Exit(EXIT_ERROR if backfill.progress.skipped else EXIT_CLEAN)


def _waiting_notice(limit: int, every_s: float = 10.0) -> Callable[[int], None]:
    """Say, at most every ``every_s`` seconds, that the submitter waits for the workers."""
    last = [float("-inf")]

    def notice(pending: int) -> None:
        if time.monotonic() - last[0] >= every_s:
            last[0] = time.monotonic()
            typer.echo(f"waiting for workers: {pending} backfill job(s) in flight "
                       f"(limit {limit})", err=True)

    return notice
