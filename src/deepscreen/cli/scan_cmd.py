"""``deepscreen scan``: screen files and folders; print a table, clamscan lines or JSON Lines.

The command reads its inputs (:mod:`.scan_inputs`), runs the one pipeline
(:func:`deepscreen.scan.scan_paths`) and hands each result to an output
(:mod:`.scan_output`); it decides nothing itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..config import ScanConfig
from ..errors import MediaError
from ..policy import Policy
from ..report import Report
from ..scan import Scanner, scan_paths
from .app import EXIT_CLEAN, EXIT_ERROR, EXIT_FOUND, app
from .common import ConfigOption, HomeOption, load_config
from .scan_inputs import Inputs, collect
from .scan_output import JsonOutput, LineOutput, Output, Summary, TableOutput
from .text import markup_safe


@app.command()
def scan(
    paths: Annotated[list[str], typer.Argument(
        help="Files or folders (recursive) to screen; '-' reads one item from standard input.",
        show_default=False)],
    json_lines: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object per item (schema deepscreen.report/1).")] = False,
    policy: Annotated[Path | None, typer.Option(
        "--policy", "-p", exists=True, dir_okay=False, show_default=False,
        help="Policy YAML to decide with instead of the built-in default.")] = None,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Also write an HTML report (face boxes, heatmaps, timeline) here.",
        dir_okay=False, show_default=False)] = None,
    signals: Annotated[str | None, typer.Option(
        "--signals", help="Comma-separated signals to run (see 'deepscreen signals').",
        show_default=False)] = None,
    workers: Annotated[int, typer.Option(
        "--workers", "-j", min=0, help="Worker processes for many files; 0 = one per core.")] = 0,
    frame_interval: Annotated[float | None, typer.Option(
        "--frame-interval", min=0.01, help="Seconds between sampled video frames [default: 1].",
        show_default=False)] = None,
    max_bytes: Annotated[int | None, typer.Option(
        "--max-bytes", min=1, help="Largest item accepted, in bytes [default: 1 GiB].",
        show_default=False)] = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show every finding under each item, not just the reasons.")] = False,
    infected: Annotated[bool, typer.Option(
        "--infected", "-i", help="Print only the items that are not allowed (and errors).")] = False,
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", help="Skip files and folders whose path or name matches this glob "
        "(repeatable), e.g. --exclude '*.txt' --exclude .git.", show_default=False)] = None,
    file_list: Annotated[Path | None, typer.Option(
        "--file-list", "-f", help="Also screen the paths listed in this file, one per line "
        "('-': standard input).", allow_dash=True, show_default=False)] = None,
    summary: Annotated[bool, typer.Option(
        "--summary/--no-summary", help="Print the summary block at the end (to standard "
        "error with --json).")] = True,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Screen files and give each a verdict: allow, label, quarantine or block.

    On a terminal the result is a table; piped, one line per file in the clamscan shape
    ("path: OK", "path: QUARANTINE reasons"); with --json, one JSON object per item. A
    summary block ends the output. Hidden files are screened too (use --exclude to skip).

    \b
    Examples:
      deepscreen scan photo.jpg                 # verdict and reasons, as a table
      deepscreen scan uploads/ --json > out.jsonl       # one JSON object per item
      deepscreen scan uploads/ -i --exclude '*.txt' | tee flagged.log
      find /srv/in -mmin -5 | deepscreen scan -f -      # a list of paths on stdin
      cat clip.mp4 | deepscreen scan -          # read one item from standard input
      deepscreen scan clip.mp4 --report out.html    # faces, heatmaps, timeline
      deepscreen scan photo.jpg --policy strict.yaml

    Exit status: 0 all allowed, 1 something labelled/quarantined/blocked, 2 an error.
    """
    cfg = _scan_config(load_config(config, home, signals=signals.split(",") if signals else None),
                       frame_interval=frame_interval, max_bytes=max_bytes,
                       html_report=report is not None)
    pol = Policy.load(policy) if policy else Policy.default()
    inputs = collect(paths, file_list, exclude or ())
    errors = Console(stderr=True)
    for folder in inputs.empty:
        errors.print(f"deepscreen: note: {markup_safe(folder)} holds no files to screen")

    output = _output(json_lines, verbose, infected, errors)
    totals = Summary()
    reports: list[Report] = []

    def emit(source: str, result: Report | MediaError) -> None:
        if isinstance(result, MediaError):
            totals.errors += 1
            output.error(source, result)
            return
        totals.count(result)
        reports.append(result)
        output.item(result)

    for missing in inputs.missing:
        emit(missing, MediaError("unreadable", "no such file or folder"))
    if inputs.stdin:
        with Scanner(cfg, pol) as scanner:
            emit("<stdin>", scanner.scan(sys.stdin.buffer, name="<stdin>"))
    _run(inputs, cfg, pol, workers, errors, emit)
    output.finish()

    if report is not None:
        from ..html_report import write_html_report

        write_html_report(reports, report)
        errors.print(f"HTML report written to {markup_safe(report)}")
    if summary:
        print("\n".join(totals.lines()), file=sys.stderr if json_lines else sys.stdout)

    if totals.errors:
        raise typer.Exit(EXIT_ERROR)
    if any(r.action != "allow" for r in reports):
        raise typer.Exit(EXIT_FOUND)
    raise typer.Exit(EXIT_CLEAN)


def _scan_config(cfg: ScanConfig, *, frame_interval: float | None, max_bytes: int | None,
                 html_report: bool) -> ScanConfig:
    """The configuration with the command-line overrides applied."""
    limits = cfg.limits
    if frame_interval is not None:
        limits = replace(limits, frame_interval_s=frame_interval)
    if max_bytes is not None:
        limits = replace(limits, max_bytes=max_bytes)
    if limits is not cfg.limits:
        cfg = replace(cfg, limits=limits)
    if html_report:
        # The HTML report shows face crops and frames; the faces signal adds them only on
        # request (they make JSON reports larger). An explicit config setting still wins.
        faces_options = {"thumbnails": True, **cfg.options_for("faces")}
        cfg = replace(cfg, signal_options={**cfg.signal_options, "faces": faces_options})
    return cfg


def _output(json_lines: bool, verbose: bool, infected: bool, errors: Console) -> Output:
    if json_lines:
        return JsonOutput(sys.stdout, infected_only=infected)
    if sys.stdout.isatty():
        return TableOutput(Console(soft_wrap=False), errors, verbose=verbose,
                           infected_only=infected)
    return LineOutput(sys.stdout, sys.stderr, verbose=verbose, infected_only=infected)


def _run(inputs: Inputs, cfg: ScanConfig, pol: Policy, workers: int, errors: Console,
         emit: Callable[[str, Report | MediaError], None]) -> None:
    """Screen the files, in worker processes when there are several, with a progress bar."""
    files = inputs.files
    if not files:
        return
    n_workers = min(workers or os.cpu_count() or 1, len(files))
    if n_workers == 1 and "threads" not in cfg.options_for("faces"):
        # One worker process leaves the other cores idle: let the faces signal use them
        # (parallel detection runs in a video). An explicit config setting still wins.
        faces_options = {**cfg.options_for("faces"), "threads": min(4, os.cpu_count() or 1)}
        cfg = replace(cfg, signal_options={**cfg.signal_options, "faces": faces_options})
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=errors,
                  transient=True, disable=len(files) < 2 or not errors.is_terminal) as bar:
        task = bar.add_task("screening", total=len(files))
        for path, result in scan_paths(files, cfg, pol, workers=n_workers):
            emit(str(path), result)
            bar.advance(task)
