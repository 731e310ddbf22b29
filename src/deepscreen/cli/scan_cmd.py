"""``deepscreen scan``: screen files and folders, print a table or JSON Lines."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..errors import MediaError
from ..policy import Policy
from ..report import Report
from ..scan import Scanner, iter_files, scan_paths
from . import EXIT_CLEAN, EXIT_ERROR, EXIT_FOUND, app
from .common import ConfigOption, HomeOption, load_config

_STYLE = {"allow": "green", "label": "yellow", "quarantine": "bold magenta", "block": "bold red"}


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
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Screen files and give each a verdict: allow, label, quarantine or block.

    \b
    Examples:
      deepscreen scan photo.jpg                 # verdict and reasons, as a table
      deepscreen scan uploads/ --json > out.jsonl       # one JSON object per item
      cat clip.mp4 | deepscreen scan -          # read from standard input
      deepscreen scan clip.mp4 --report out.html    # faces, heatmaps, timeline
      deepscreen scan photo.jpg --policy strict.yaml

    Exit status: 0 all allowed, 1 something labelled/quarantined/blocked, 2 an error.
    """
    cfg = load_config(config, home, signals=signals.split(",") if signals else None)
    limit_overrides = {k: v for k, v in {"frame_interval_s": frame_interval,
                                         "max_bytes": max_bytes}.items() if v is not None}
    if limit_overrides:
        cfg = replace(cfg, limits=replace(cfg.limits, **limit_overrides))
    if report is not None:
        # The HTML report shows face crops and frames; the faces signal adds them only on
        # request (they make JSON reports larger). An explicit config setting still wins.
        faces_options = {"thumbnails": True, **cfg.options_for("faces")}
        cfg = replace(cfg, signal_options={**cfg.signal_options, "faces": faces_options})
    pol = Policy.load(policy) if policy else Policy.default()
    console = Console(stderr=False, soft_wrap=False)
    errors = Console(stderr=True)

    reports: list[Report] = []
    failed = False

    def emit(source: str, result: Report | MediaError) -> None:
        nonlocal failed
        if isinstance(result, MediaError):
            failed = True
            errors.print(f"[red]deepscreen: error:[/] {result}")
            if json_lines:
                print(json.dumps({"schema": "deepscreen.error/1", "source": source,
                                  "error": {"code": result.code, "message": str(result)}}),
                      flush=True)
            return
        reports.append(result)
        if json_lines:
            print(result.to_json(), flush=True)

    files: list[Path] = []
    for raw in paths:
        if raw == "-":
            with Scanner(cfg, pol) as scanner:
                emit("<stdin>", scanner.scan(sys.stdin.buffer, name="<stdin>"))
        elif not os.path.exists(raw):
            emit(raw, MediaError("unreadable", f"{raw}: no such file or folder"))
        else:
            files.extend(iter_files([raw]))

    if files:
        n_workers = workers or os.cpu_count() or 1
        n_workers = min(n_workers, len(files))
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

    if not json_lines and reports:
        console.print(_table([r for report in reports for r in report.walk()], verbose))  # + members
    if report is not None:
        from ..html_report import write_html_report

        write_html_report(reports, report)
        errors.print(f"HTML report written to {report}")

    if failed:
        raise typer.Exit(EXIT_ERROR)
    if any(r.action != "allow" for r in reports):
        raise typer.Exit(EXIT_FOUND)
    raise typer.Exit(EXIT_CLEAN)


def _table(reports: list[Report], verbose: bool) -> Table:
    table = Table(show_lines=verbose or len(reports) < 20, header_style="bold")
    table.add_column("item", overflow="fold")
    table.add_column("kind")
    table.add_column("verdict")
    table.add_column("reasons", overflow="fold")
    for r in reports:
        action = r.action
        lines = [f"{x.reason} [dim]({x.rule}: {', '.join(x.signals)})[/]" for x in r.verdict.reasons]
        if verbose:
            lines += [f"[dim]{f.signal} {f.version}:[/] {_finding_line(f)}" for f in r.findings]
        kind = f"{r.item['kind']}/{r.item['format']}"
        table.add_row(str(r.item["source"]), kind, f"[{_STYLE[action]}]{action}[/]",
                      "\n".join(lines) or "[dim]no signal fired[/]")
    return table


def _finding_line(finding) -> str:  # type: ignore[no-untyped-def]
    if finding.abstained:
        return f"[dim]abstained: {finding.abstained}[/]"
    score = "" if finding.score is None else f"score {finding.score:.3f} "
    labels = f"[{', '.join(finding.labels)}] " if finding.labels else ""
    return f"{score}{labels}{finding.summary}"
