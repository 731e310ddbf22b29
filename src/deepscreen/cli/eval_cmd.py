"""``deepscreen eval``: measure a signal on labelled real/fake media."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..errors import DeepscreenError
from ..evaluate import (
    OVERALL,
    FileResult,
    FlagShare,
    Metrics,
    SetReport,
    evaluate_files,
    load_labelled_csv,
    load_labelled_dir,
    summarise,
    summarise_sets,
)
from ..policy import Policy
from .app import EXIT_CLEAN, app
from .common import ConfigOption, HomeOption, load_config

JSON_VERSION = 2


@app.command("eval")
def eval_command(
    directory: Annotated[Path | None, typer.Argument(
        help="Folder with real/ and fake/ subfolders.", show_default=False,
        exists=True, file_okay=False)] = None,
    csv_file: Annotated[Path | None, typer.Option(
        "--csv", exists=True, dir_okay=False, show_default=False,
        help="CSV of path,label[,set] (label real/fake or 0/1) instead of a folder; "
             "with a set column, every set is reported apart.")] = None,
    data_root: Annotated[Path | None, typer.Option(
        "--data-root", envvar="DEEPSCREEN_DATA", file_okay=False, show_default=False,
        help="Folder that CSV paths written data:SET/PATH are read under.")] = None,
    policy: Annotated[Path | None, typer.Option(
        "--policy", "-p", exists=True, dir_okay=False, show_default=False,
        help="Policy whose verdicts count as flags (default: the built-in one).")] = None,
    signal: Annotated[str, typer.Option(
        "--signal", help="Signal whose score is evaluated (faces, voice, ...).")] = "faces",
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object: metrics and per-file scores.")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", dir_okay=False, show_default=False,
        help="Write per-file results as JSON Lines here.")] = None,
    workers: Annotated[int, typer.Option(
        "--workers", "-j", min=0, help="Worker processes; 0 = one per core.")] = 0,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Score labelled media and report AUC, average precision and TPR at 1% FPR.

    Levels: image, audio and video (item scores; video: the most manipulated face
    track, or the sound track for --signal voice),
    video-frames (every sampled frame with a scored face). Items the signal
    abstains on (no face, too small) are counted, not scored. Each AUC has a
    95% bootstrap interval (frames: whole videos resampled); on a small set,
    read it before the AUC.

    Flags: the share of real and of fake items that the policy did not allow,
    from the same scan (only the evaluated signal runs, so a flag is its doing).
    With a set column in the CSV, a second table gives every set: a set of one
    class is scored against all items of the other class.

    \b
    Examples:
      deepscreen eval data/dev             (data/dev/real/..., data/dev/fake/...)
      deepscreen eval --csv labels.csv --out scores.jsonl
      deepscreen eval --csv bench/face_dev_suite.csv --json > dev.json
    """
    if csv_file is not None and directory is None:
        files = load_labelled_csv(csv_file, data_root)
    elif directory is not None and csv_file is None:
        files = load_labelled_dir(directory)
    else:
        raise DeepscreenError("give either a folder with real/ and fake/ or --csv FILE")
    missing = [str(f.path) for f in files if not f.path.is_file()]
    if missing:
        raise DeepscreenError(f"{len(missing)} listed file(s) not found, e.g. {missing[0]}")
    cfg = load_config(config, home, signals=[signal])
    pol = Policy.load(policy) if policy else Policy.default()
    n_workers = min(workers or os.cpu_count() or 1, len({f.path for f in files}))
    errors = Console(stderr=True)
    results: list[FileResult] = []
    sink = out.open("w", encoding="utf-8") if out else None
    try:
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeRemainingColumn(), console=errors,
                      transient=True, disable=not errors.is_terminal) as bar:
            task = bar.add_task(f"evaluating {signal}", total=len({f.path for f in files}))
            for result in evaluate_files(files, cfg, pol, signal=signal, workers=n_workers):
                results.append(result)
                if sink:
                    sink.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
                bar.advance(task)
    finally:
        if sink:
            sink.close()
    metrics = summarise(results)
    flags = FlagShare.of(results)
    sets = summarise_sets(files, results) if any(f.set for f in files) else {}
    failed = sum(1 for r in results if r.error)
    if json_out:
        # Version 2 added "version", "flags" and "sets"; every version-1 key is unchanged.
        print(json.dumps({"version": JSON_VERSION, "signal": signal, "files": len(results),
                          "errors": failed,
                          "metrics": {k: m.to_dict() for k, m in metrics.items()},
                          "flags": flags.to_dict(),
                          "sets": {k: r.to_dict() for k, r in sets.items()},
                          "results": [r.to_dict() for r in results]}, ensure_ascii=False))
    else:
        Console().print(_table(signal, metrics, flags))
        if sets:
            Console().print(_sets_table(signal, sets))
        if failed:
            errors.print(f"{failed} file(s) could not be screened; see --out for details")
    raise typer.Exit(EXIT_CLEAN)


def _interval_note(level: str, interval: tuple[float, float]) -> str:
    low, high = interval
    if low == high:  # every resample ranks alike: the bootstrap cannot bound a set this small
        return (f"{level}: AUC 95% CI not informative (every resample gives {low:.3f}; "
                "too few examples to bound it)")
    over = " over videos" if level == "video-frames" else ""
    return f"{level}: AUC 95% CI {low:.3f}-{high:.3f} (bootstrap{over})"


def _share(flagged: int, total: int) -> str:
    return "-" if not total else f"{100.0 * flagged / total:.1f}% ({flagged}/{total})"


def _table(signal: str, metrics: dict[str, Metrics], flags: FlagShare | None = None) -> Table:
    table = Table(title=f"{signal}: detection quality", header_style="bold")
    # Short headers so the table fits 80 columns; the command's help spells them out.
    for column in ("level", "real", "fake", "abst.", "AUC", "AP", "TPR@1%FPR", "thr@1%FPR"):
        table.add_column(column, justify="left" if column == "level" else "right",
                         no_wrap=True)

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    for level in ("image", "audio", "video", "video-frames"):
        m = metrics.get(level)
        if m is None:
            continue
        table.add_row(level, str(m.n_real), str(m.n_fake), str(m.abstained), fmt(m.auc),
                      fmt(m.average_precision), fmt(m.tpr_at_1pct_fpr),
                      fmt(m.threshold_at_1pct_fpr))
    notes = [_interval_note(level, m.auc_ci95)
             for level, m in metrics.items() if m.auc_ci95 is not None]
    notes += [f"{level}: {m.note}" for level, m in metrics.items() if m.note]
    if not metrics:
        notes.append("no image or video was scored")
    if flags is not None and (flags.real or flags.fake):
        notes.append(f"flagged by the policy: real {_share(flags.real_flagged, flags.real)}, "
                     f"fake {_share(flags.fake_flagged, flags.fake)}")
    table.caption = "\n".join(notes) or None
    return table


def _sets_table(signal: str, sets: dict[str, SetReport]) -> Table:
    """One row per set, then the overall row: item-level AUC, TPR and the policy's flags."""
    table = Table(title=f"{signal}: per set (items: images and videos)", header_style="bold")
    for column in ("set", "real", "fake", "abst.", "AUC", "95% CI", "TPR@1%FPR",
                   "real flagged", "fake flagged"):
        table.add_column(column, justify="left" if column == "set" else "right")
    notes = []
    for name, report in sets.items():
        m = report.metrics
        interval = "-" if m.auc_ci95 is None else f"{m.auc_ci95[0]:.3f}-{m.auc_ci95[1]:.3f}"
        own_real, own_fake = report.flags.real, report.flags.fake
        table.add_row(name, str(own_real), str(own_fake), str(m.abstained),
                      "-" if m.auc is None else f"{m.auc:.3f}", interval,
                      "-" if m.tpr_at_1pct_fpr is None else f"{m.tpr_at_1pct_fpr:.3f}",
                      _share(report.flags.real_flagged, own_real),
                      _share(report.flags.fake_flagged, own_fake),
                      end_section=name == OVERALL)
        if report.versus:
            notes.append(f"{name}: AUC and TPR {report.versus}")
    table.caption = "\n".join(notes) or None
    return table
